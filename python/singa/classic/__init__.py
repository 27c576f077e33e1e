"""The classic SINGA Python APIs on the autograd core.

``from singa.classic import *`` gives the Keras-like job API of SINGA 0.x
(``Sequential``, ``Energy``, the layers, ``Parameter``, ``SGD``/``AdaGrad``,
``Cluster``, ``Store``, ``Data``) and the interactive layer API (``ComputeFeature``,
``ComputeGradient``, ``GetParams``/``SetParams``, ``Dummy``/``ImageInput``/
``LabelInput``, ``Loss``, ``SGD.Update``, ``save_model_parameter``/
``load_model_parameter``). ``from singa.classic.datasets import mnist, cifar10``
gives their ``load_data()``. See docs/classic.md.

Note: ``fit(nb_epoch=N)`` trains N *steps* (mini-batches), as in SINGA 0.x.
"""

from .parameter import Parameter
from .layers import (Layer, Dense, Activation, Convolution2D, Convolution, MaxPooling2D,
                     AvgPooling2D, LRN2D, Dropout, RBM, Autoencoder, Dummy, ImageInput,
                     LabelInput, Loss, STanh, stanh, pool_size)
from .updater import Updater, SGD, AdaGrad, LearningRate
from .cluster import Cluster, Store, Data, latest_checkpoint
from .model import Model, Sequential, Energy, save_model_parameter, load_model_parameter

__all__ = ["Parameter", "Layer", "Dense", "Activation", "Convolution2D", "Convolution",
           "MaxPooling2D", "AvgPooling2D", "LRN2D", "Dropout", "RBM", "Autoencoder", "Dummy",
           "ImageInput", "LabelInput", "Loss", "STanh", "stanh", "pool_size", "Updater", "SGD",
           "AdaGrad", "LearningRate", "Cluster", "Store", "Data", "latest_checkpoint", "Model",
           "Sequential", "Energy", "save_model_parameter", "load_model_parameter"]
