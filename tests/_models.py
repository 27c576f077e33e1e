"""Small models shared by the model-level tests."""

import numpy as np

from singa import autograd, layer, model, tensor


class Classifier(model.Model):
    """A model whose training step is forward, softmax cross-entropy (``self.loss``) and
    one optimizer call; subclasses build their layers and define ``forward``."""

    def __init__(self):
        super().__init__()
        self.loss = layer.SoftMaxCrossEntropy()

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss(out, y)
        self.optimizer(loss)
        return out, loss


class MLP(Classifier):
    """linear (hidden) - relu - dropout - linear (classes), softmax cross-entropy."""

    def __init__(self, hidden=16, classes=3, dropout=0.0):
        super().__init__()
        self.l1 = layer.Linear(hidden)
        self.relu = layer.ReLU()
        self.drop = layer.Dropout(dropout)
        self.l2 = layer.Linear(classes)

    def forward(self, x):
        return self.l2(self.drop(self.relu(self.l1(x))))


class SmallCNN(Classifier):
    """conv 3x3 (4 channels) - batch norm - relu - max pool - linear, softmax cross-entropy."""

    def __init__(self, classes=2):
        super().__init__()
        self.conv = layer.Conv2d(4, 3, padding=1)
        self.bn = layer.BatchNorm2d()
        self.pool = layer.MaxPool2d(2)
        self.flat = layer.Flatten()
        self.fc = layer.Linear(classes)

    def forward(self, x):
        return self.fc(self.flat(self.pool(autograd.relu(self.bn(self.conv(x))))))


class ModeProbe(model.Model):
    """Linear; each forward records (whether Dropout is the identity, i.e. evaluation
    behaviour, and ``autograd.training``, i.e. whether ops record)."""

    def __init__(self):
        super().__init__()
        self.fc = layer.Linear(2)
        self.seen = []

    def forward(self, x):
        ones = tensor.from_numpy(np.ones((64,), np.float32))
        kept = tensor.to_numpy(autograd.dropout(ones, ratio=0.5))
        self.seen.append((bool(np.all(kept == 1.0)), autograd.training))
        return self.fc(x)

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = autograd.mse_loss(out, y)
        self.optimizer(loss)
        return out, loss
