"""TF2-native versions of TF1's standard SessionRunHooks, with TF1's constructors."""

from keras_monitored.hooks.checkpoint_saver import (
    CheckpointSaverHook,
    CheckpointSaverListener,
)
from keras_monitored.hooks.feed_fn import FeedFnHook
from keras_monitored.hooks.final_ops import FinalOpsHook
from keras_monitored.hooks.global_step_waiter import GlobalStepWaiterHook
from keras_monitored.hooks.logging_tensor import LoggingTensorHook
from keras_monitored.hooks.nan_tensor import (
    NanLossDuringTrainingError,
    NanTensorHook,
)
from keras_monitored.hooks.profiler import ProfilerHook
from keras_monitored.hooks.progress_bar import ProgressBarHook
from keras_monitored.hooks.step_counter import StepCounterHook
from keras_monitored.hooks.stop_at_step import StopAtStepHook
from keras_monitored.hooks.summary_saver import SummarySaverHook
from keras_monitored.hooks.timer import NeverTriggerTimer, SecondOrStepTimer

__all__ = [
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "FeedFnHook",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
    "LoggingTensorHook",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "NeverTriggerTimer",
    "ProfilerHook",
    "ProgressBarHook",
    "SecondOrStepTimer",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
]
