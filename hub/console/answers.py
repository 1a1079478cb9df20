"""Registration answers as staff read them: the kiosk's answer keys (kiosk/forms.py) in Chinese.

Shared by the registration pages and the hand-off export, and free of Flask.
"""

from __future__ import annotations

from typing import Any

# The kiosk's answer keys (kiosk/forms.py) as staff read them.
ANSWER_LABELS = {"categories": "想做的工作", "salary": "期望工资", "available_from": "可以上班时间",
                 "trainings": "想学的技能", "training_time": "上课时间", "return_date": "返乡时间",
                 "came_from": "原务工地", "plan": "返乡打算", "skills": "能做的活", "days": "可以干活的日子",
                 "day_pay": "期望日薪", "consent": "个人信息授权", "channel": "登记渠道"}
CHANNELS = {"kiosk": "自助一体机", "counter": "窗口"}


def answer_rows(answers: dict[str, Any]) -> list[tuple[str, str]]:
    """Answers as (Chinese label, text) rows; the station id is shown elsewhere."""
    rows = []
    for key, value in answers.items():
        if key == "station_id":
            continue
        if key == "consent" and isinstance(value, dict):
            text = f"已同意（说明第 {value.get('version', '?')} 版，{str(value.get('accepted_at', ''))[:16].replace('T', ' ')}）"
        elif key == "channel":
            text = CHANNELS.get(str(value), str(value))
        elif isinstance(value, list):
            text = "、".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = "；".join(f"{k}：{v}" for k, v in value.items())
        else:
            text = str(value)
        rows.append((ANSWER_LABELS.get(key, key), text))
    return rows
