"""keras_monitored: TF1's MonitoredTrainingSession and SessionRunHooks on TF2.

Import as `import keras_monitored as km`.
"""

from keras_monitored import distribute, hooks
from keras_monitored._preemption import PREEMPTED_EXIT_CODE
from keras_monitored._ps_session import ParameterServerLostError
from keras_monitored.callback_hook import CallbackHook
from keras_monitored.exposed_tensors import expose
from keras_monitored.global_step import (
    get_global_step,
    get_or_create_global_step,
    reset_global_step,
)
from keras_monitored.hook_callback import HookCallback
from keras_monitored.hook_list import HookList
from keras_monitored.hooks import (
    CheckpointSaverHook,
    CheckpointSaverListener,
    FeedFnHook,
    FinalOpsHook,
    GlobalStepWaiterHook,
    LoggingTensorHook,
    NanLossDuringTrainingError,
    NanTensorHook,
    ProfilerHook,
    ProgressBarHook,
    SecondOrStepTimer,
    StepCounterHook,
    StopAtStepHook,
    SummarySaverHook,
)
from keras_monitored.monitored_session import (
    MonitoredSession,
    SingularMonitoredSession,
)
from keras_monitored.scaffold import Scaffold
from keras_monitored.session_creator import (
    ChiefSessionCreator,
    SessionCreator,
    WorkerSessionCreator,
)
from keras_monitored.session_run_hook import (
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
)
from keras_monitored.step_context import StepContext
from keras_monitored.step_session import StepSession
from keras_monitored.training_session import (
    USE_DEFAULT,
    MonitoredTrainingSession,
)

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
    "PREEMPTED_EXIT_CODE",
    "ParameterServerLostError",
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
