"""Command line of the shard writer: ``python -m singa.data.write_shards``.

Examples::

    python -m singa.data.write_shards --image-dir /data/imagenet/train \\
        --out /data/shards/train --size 256 --shard-size 1024 --workers 8
    python -m singa.data.write_shards --cifar10 examples/data/cifar-10 --out shards/cifar10

The functions behind it are ``singa.data.write_shards`` (image trees) and
``singa.data.write_shards_from_arrays``, defined in ``singa.data.shards``,
which also documents the file format. Re-running the same command resumes.
"""

import sys

from .shards import main

if __name__ == "__main__":
    sys.exit(main())
