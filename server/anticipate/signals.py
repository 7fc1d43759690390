"""What the detection of unusual counts finds (``server.anticipate.detect``) and the warnings' life
(``server.warning``) takes in: one signal per area x category x period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

SURGE = "surge"  # 突增高频: this week's count far above what the area's own history expects
PERSISTENT = "persistent"  # 长期高频: an area whose count has stayed far above its peers' for weeks
KINDS = {SURGE: "突增高频", PERSISTENT: "长期高频"}


@dataclass(frozen=True)
class Signal:
    """``area_code`` is a grid's code at ``level`` (``village`` 社区, ``street`` 街道 or ``district`` 区县);
    ``period_start`` to ``period_end`` are local dates, inclusive (a week Monday to Sunday for a surge, the
    weeks looked at for a persistent problem); ``expected`` is the count the history expects there and
    ``p_value`` the chance of ``observed`` or more under it; ``message`` says it in one Chinese sentence."""

    kind: str
    level: str
    area_code: str
    area_name: str
    category_id: int
    category_code: str
    category_name: str
    period_start: date
    period_end: date
    observed: int
    expected: float
    p_value: float
    message: str
