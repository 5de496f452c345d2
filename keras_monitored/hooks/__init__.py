"""TF2-native versions of TF1's standard SessionRunHooks, with TF1's constructors."""

from keras_monitored.hooks.checkpoint_saver import CheckpointSaverHook
from keras_monitored.hooks.checkpoint_saver import CheckpointSaverListener
from keras_monitored.hooks.stop_at_step import StopAtStepHook
from keras_monitored.hooks.timer import NeverTriggerTimer
from keras_monitored.hooks.timer import SecondOrStepTimer

__all__ = [
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "NeverTriggerTimer",
    "SecondOrStepTimer",
    "StopAtStepHook",
]
