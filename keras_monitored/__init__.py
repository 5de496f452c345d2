"""keras_monitored: TF1's MonitoredTrainingSession and SessionRunHooks on TF2.

Import as `import keras_monitored as km`.
"""

from keras_monitored import distribute
from keras_monitored import hooks
from keras_monitored.callback_hook import CallbackHook
from keras_monitored.exposed_tensors import expose
from keras_monitored.global_step import get_global_step
from keras_monitored.global_step import get_or_create_global_step
from keras_monitored.global_step import reset_global_step
from keras_monitored.hook_callback import HookCallback
from keras_monitored.hook_list import HookList
from keras_monitored.hooks import CheckpointSaverHook
from keras_monitored.hooks import CheckpointSaverListener
from keras_monitored.hooks import FeedFnHook
from keras_monitored.hooks import FinalOpsHook
from keras_monitored.hooks import GlobalStepWaiterHook
from keras_monitored.hooks import LoggingTensorHook
from keras_monitored.hooks import NanLossDuringTrainingError
from keras_monitored.hooks import NanTensorHook
from keras_monitored.hooks import ProfilerHook
from keras_monitored.hooks import ProgressBarHook
from keras_monitored.hooks import SecondOrStepTimer
from keras_monitored.hooks import StepCounterHook
from keras_monitored.hooks import StopAtStepHook
from keras_monitored.hooks import SummarySaverHook
from keras_monitored.monitored_session import MonitoredSession
from keras_monitored.monitored_session import SingularMonitoredSession
from keras_monitored.monitored_session import StepContext
from keras_monitored.scaffold import Scaffold
from keras_monitored.session_creator import ChiefSessionCreator
from keras_monitored.session_creator import SessionCreator
from keras_monitored.session_creator import WorkerSessionCreator
from keras_monitored.session_run_hook import SessionRunArgs
from keras_monitored.session_run_hook import SessionRunContext
from keras_monitored.session_run_hook import SessionRunHook
from keras_monitored.session_run_hook import SessionRunValues
from keras_monitored.step_session import StepSession
from keras_monitored.training_session import USE_DEFAULT
from keras_monitored.training_session import MonitoredTrainingSession

__version__ = "0.1.0"

__all__ = [
    "CallbackHook",
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "ChiefSessionCreator",
    "FeedFnHook",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
    "HookCallback",
    "HookList",
    "LoggingTensorHook",
    "MonitoredSession",
    "MonitoredTrainingSession",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "ProfilerHook",
    "ProgressBarHook",
    "Scaffold",
    "SecondOrStepTimer",
    "SessionCreator",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "SingularMonitoredSession",
    "StepContext",
    "StepCounterHook",
    "StepSession",
    "StopAtStepHook",
    "SummarySaverHook",
    "USE_DEFAULT",
    "WorkerSessionCreator",
    "distribute",
    "expose",
    "get_global_step",
    "get_or_create_global_step",
    "hooks",
    "reset_global_step",
]
