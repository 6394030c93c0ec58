"""What a data source says about itself: the one record every source returns next to its tf.data.Dataset."""

import dataclasses


@dataclasses.dataclass
class DatasetInfo:
    """Facts about one dataset, as far as the source knows them without reading it all.

    Attributes:
        name: the dataset's name (`cifar10`, `cifar10_sample`, `synthetic`, a folder or directory name).
        num_classes: number of label values; labels run from 0 to num_classes - 1.
        num_examples: split name -> number of examples, or None where the source cannot tell cheaply
            (an endless synthetic stream, a large TFRecord file).
        image_size: (height, width) when every image has that size, else None (mixed sizes).
        class_names: the label names by index, or None when the source has none.
    """

    name: str
    num_classes: int
    num_examples: dict | None = None
    image_size: tuple | None = None
    class_names: list | None = None
