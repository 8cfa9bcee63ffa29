"""``import fastconv.nn.functional as F`` works as in torch: the same functions as fastconv.functional."""
from ..functional import *  # noqa: F401,F403
from ..functional import __all__  # noqa: F401
