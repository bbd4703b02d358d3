"""The training layer: ``tf.Module`` (``module``), ``tf.data`` (``data``) and checkpoints
(``checkpoint``); Keras (``tapegrad/keras/``) and data-parallel training
(``tapegrad/distribute/``) belong to it too."""
