"""Realistic sample content for a station: jobs around it, policies, events, notices, training videos.

Everything is drawn from a seeded random generator, so the same arguments give the same
content (the demo, the tests and the benchmarks rely on that). Jobs cluster around the
station as real vacancies do: most within the 3 km circle, some across town, a few in the
next county. Titles, employers and requirements read like the postings on a city
employment platform; policies follow the wording of the public notices a station explains
(就业补贴, 创业担保贷款, 职业技能培训补贴, 返乡创业一次性补贴, 社保补贴, 就业援助).

With ``media_dir``, two short training videos (H.264 or MPEG-4, drawn with Pillow, encoded
with ffpyplayer's writer) and their thumbnails are written there as ``<sha256>.<ext>``,
and the courses refer to them. Nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.files import write_atomic
from common.geo import destination
from protocol.model import Announcement, ContentSet, Course, Event, Job, MediaRef, Policy

# --------------------------------------------------------------------------------------------
# job templates: category -> (title, kinds, (unit, min low, min high, spread), education, ages, gender,
#                              requirements, benefits, employer kinds)


@dataclass(frozen=True)
class _Template:
    category: str
    title: str
    kinds: tuple[str, ...]
    salary: tuple[str, int, int, int]
    education: str
    ages: tuple[int | None, int | None]
    gender: str
    requirements: tuple[str, ...]
    benefits: tuple[str, ...]
    employers: tuple[str, ...]


_BENEFITS_FULL = ("五险一金", "缴纳五险", "包吃包住", "包午餐", "提供宿舍", "月休4天", "节日福利", "满勤奖",
                  "年终奖", "带薪年假", "免费体检", "工作服统一发放", "交通补贴", "高温补贴")
_BENEFITS_GIG = ("当天结算", "日结工资", "提供午餐", "提供工具", "按件计酬多劳多得", "车接车送")


def _t(category: str, title: str, kinds: str, salary: tuple[str, int, int, int], education: str,
       ages: tuple[int | None, int | None], gender: str, requirements: tuple[str, ...],
       employers: tuple[str, ...], benefits: tuple[str, ...] = _BENEFITS_FULL) -> _Template:
    return _Template(category, title, tuple(kinds.split("/")), salary, education, ages, gender,
                     requirements, benefits, employers)


_TEMPLATES: tuple[_Template, ...] = (
    # 普工
    _t("普工", "普工", "全职", ("月", 3800, 5200, 1500), "初中", (18, 50), "不限",
       ("身体健康，能适应倒班", "能吃苦耐劳，服从车间安排", "无需经验，岗前免费培训"), ("电子科技", "食品", "服装", "包装制品")),
    _t("普工", "包装工", "全职/零工", ("月", 3500, 4500, 1000), "不限", (18, 55), "不限",
       ("手脚麻利，会简单计数", "能站立工作", "有流水线经验优先"), ("食品", "包装制品", "农产品加工")),
    _t("普工", "电子厂操作工", "全职", ("月", 4000, 5500, 1500), "初中", (18, 45), "不限",
       ("视力良好，无色盲色弱", "能适应两班倒", "会简单识字"), ("电子科技", "精密制造")),
    _t("普工", "缝纫工", "全职/兼职", ("件", 1, 3, 2), "不限", (18, 55), "女",
       ("会操作平车", "有服装厂工作经验优先", "计件工资多劳多得"), ("服装", "制衣")),
    _t("普工", "搬运工", "零工/全职", ("日", 180, 260, 60), "不限", (18, 55), "男",
       ("身体健康，能搬运重物", "吃苦耐劳"), ("物流", "建材", "商贸"), _BENEFITS_GIG),
    _t("普工", "质检员", "全职", ("月", 4000, 5000, 1500), "高中/中专", (20, 45), "不限",
       ("认真细致，会使用卡尺", "有质检经验优先"), ("电子科技", "食品", "精密制造")),
    # 技工
    _t("技工", "电工", "全职/零工", ("月", 5500, 7000, 2000), "高中/中专", (22, 55), "男",
       ("持有效低压电工作业证", "熟悉强弱电安装维修", "有物业或工厂维修经验优先"), ("物业服务", "建筑安装", "电子科技")),
    _t("技工", "焊工", "全职", ("月", 6000, 8000, 2500), "初中", (22, 55), "男",
       ("持焊工证", "会氩弧焊、二保焊", "能看懂简单图纸"), ("钢结构", "机械制造", "建筑安装")),
    _t("技工", "汽车维修工", "全职", ("月", 5000, 7000, 2500), "高中/中专", (20, 45), "男",
       ("两年以上汽修经验", "会使用诊断仪", "有C1驾照优先"), ("汽车服务", "汽车销售服务")),
    _t("技工", "CAD制图员", "全职", ("月", 5000, 6500, 2000), "大专", (22, 40), "不限",
       ("熟练使用CAD软件", "能独立完成施工图", "土木或机械相关专业"), ("建筑设计", "机械制造")),
    _t("技工", "数控车床操作工", "全职", ("月", 5500, 7500, 2000), "高中/中专", (20, 45), "不限",
       ("会看图纸，会编程优先", "有数控车床操作经验"), ("精密制造", "机械制造")),
    _t("技工", "水电安装工", "零工/全职", ("日", 300, 400, 100), "不限", (20, 60), "男",
       ("熟悉家装水电改造", "自带工具优先"), ("装饰工程", "建筑安装"), _BENEFITS_GIG),
    # 服务
    _t("服务", "超市理货员", "全职/兼职", ("月", 3200, 4000, 800), "初中", (18, 50), "不限",
       ("会使用智能手机", "服从门店排班", "有超市工作经验优先"), ("超市", "商贸")),
    _t("服务", "收银员", "全职/兼职", ("月", 3300, 4000, 800), "高中/中专", (18, 40), "不限",
       ("会使用收银系统", "做事细心", "普通话流利"), ("超市", "餐饮管理", "商贸")),
    _t("服务", "酒店前台", "全职", ("月", 3500, 4500, 1000), "高中/中专", (18, 35), "女",
       ("形象端正，普通话标准", "会基本电脑操作", "能上夜班"), ("酒店管理",)),
    _t("服务", "停车场收费员", "全职", ("月", 3000, 3500, 500), "初中", (30, 60), "不限",
       ("会使用智能手机收费", "责任心强"), ("物业服务", "停车管理")),
    _t("服务", "客房服务员", "全职/零工", ("月", 3200, 4000, 800), "不限", (18, 50), "女",
       ("手脚勤快", "有酒店客房经验优先"), ("酒店管理",)),
    # 餐饮
    _t("餐饮", "厨师", "全职", ("月", 5000, 7000, 3000), "初中", (22, 50), "不限",
       ("持健康证", "会做贵州家常菜", "两年以上厨房经验"), ("餐饮管理", "酒店管理")),
    _t("餐饮", "帮厨", "全职/零工", ("月", 3500, 4200, 800), "不限", (18, 55), "不限",
       ("持健康证或入职办理", "会切配洗菜"), ("餐饮管理", "团餐服务")),
    _t("餐饮", "服务员", "全职/兼职/零工", ("月", 3200, 4000, 800), "不限", (18, 45), "不限",
       ("热情礼貌", "能适应早晚班"), ("餐饮管理", "酒店管理")),
    _t("餐饮", "面点师", "全职", ("月", 4500, 6000, 2000), "初中", (20, 50), "不限",
       ("会做包子、馒头、花卷", "持健康证"), ("餐饮管理", "团餐服务", "食品")),
    _t("餐饮", "洗碗工", "全职/零工", ("日", 120, 160, 40), "不限", (18, 60), "不限",
       ("能吃苦耐劳",), ("餐饮管理", "团餐服务"), _BENEFITS_GIG),
    # 保洁
    _t("保洁", "保洁员", "全职/兼职/零工", ("月", 2800, 3300, 500), "不限", (18, 60), "不限",
       ("身体健康，做事认真", "年龄可放宽至60岁", "有物业保洁经验优先"), ("物业服务", "保洁服务", "医院后勤")),
    _t("保洁", "商场保洁", "全职", ("月", 2900, 3400, 500), "不限", (18, 58), "不限",
       ("服从排班，能上早班",), ("物业服务", "保洁服务")),
    _t("保洁", "开荒保洁", "零工", ("日", 180, 240, 60), "不限", (18, 60), "不限",
       ("会使用洗地机优先", "能登高作业"), ("保洁服务", "家政服务"), _BENEFITS_GIG),
    _t("保洁", "道路清扫员", "全职", ("月", 2600, 3000, 400), "不限", (30, 60), "不限",
       ("身体健康，能早起", "服从片区安排"), ("环卫服务",)),
    # 保安
    _t("保安", "保安员", "全职", ("月", 3200, 4000, 800), "初中", (18, 55), "男",
       ("持保安员证优先", "身体健康，无违法犯罪记录", "能适应夜班"), ("保安服务", "物业服务")),
    _t("保安", "银行大堂保安", "全职", ("月", 3600, 4200, 600), "高中/中专", (20, 45), "男",
       ("身高170cm以上", "持保安员证", "形象端正"), ("保安服务",)),
    _t("保安", "监控室值班员", "全职", ("月", 3500, 4200, 600), "高中/中专", (20, 50), "不限",
       ("持消防设施操作员证优先", "会基本电脑操作"), ("物业服务", "保安服务")),
    _t("保安", "小区门岗", "全职", ("月", 3000, 3500, 500), "不限", (25, 60), "男",
       ("责任心强，能倒班",), ("物业服务",)),
    # 家政
    _t("家政", "家政服务员", "全职/零工", ("月", 4500, 6500, 2000), "不限", (25, 55), "女",
       ("会做家务和家常菜", "持家政服务员证优先", "有健康证"), ("家政服务",)),
    _t("家政", "育婴员", "全职", ("月", 6000, 8000, 2000), "初中", (25, 50), "女",
       ("持育婴员证", "有带婴儿经验", "有爱心耐心"), ("家政服务", "母婴护理")),
    _t("家政", "养老护理员", "全职", ("月", 4000, 5500, 1500), "初中", (25, 55), "不限",
       ("持养老护理员证优先", "有爱心，能照顾失能老人"), ("养老服务", "家政服务")),
    _t("家政", "钟点工", "兼职/零工", ("时", 30, 40, 10), "不限", (25, 60), "女",
       ("会日常保洁收纳",), ("家政服务",), _BENEFITS_GIG),
    # 物流
    _t("物流", "快递分拣员", "全职/兼职/零工", ("月", 4500, 6000, 1500), "不限", (18, 45), "不限",
       ("能上夜班", "手脚麻利", "能搬运20公斤以内包裹"), ("物流", "快递", "供应链管理")),
    _t("物流", "快递员", "全职", ("月", 6000, 9000, 3000), "初中", (20, 45), "不限",
       ("自备电动车", "会使用智能手机导航", "熟悉本地街道优先"), ("快递", "物流")),
    _t("物流", "叉车司机", "全职", ("月", 5000, 6500, 1500), "初中", (22, 50), "男",
       ("持叉车证（N1）", "一年以上仓库叉车经验"), ("物流", "供应链管理", "建材")),
    _t("物流", "仓库管理员", "全职", ("月", 4000, 5000, 1500), "高中/中专", (22, 45), "不限",
       ("会使用电脑和Excel", "有仓库管理经验优先"), ("物流", "商贸", "供应链管理")),
    _t("物流", "货车司机", "全职/零工", ("月", 7000, 9000, 3000), "初中", (25, 55), "男",
       ("持B2及以上驾驶证", "三年以上驾龄", "熟悉贵阳周边路线"), ("物流", "建材", "商贸")),
    _t("物流", "外卖骑手", "全职/兼职", ("件", 5, 7, 3), "不限", (18, 50), "不限",
       ("自备电动车和智能手机", "熟悉周边道路"), ("同城配送",), _BENEFITS_GIG),
    # 建筑
    _t("建筑", "钢筋工", "全职/零工", ("日", 300, 380, 80), "不限", (20, 58), "男",
       ("有工地钢筋绑扎经验",), ("建筑劳务",), _BENEFITS_GIG),
    _t("建筑", "木工", "零工/全职", ("日", 320, 400, 80), "不限", (20, 58), "男",
       ("会支模板", "自带工具"), ("建筑劳务", "装饰工程"), _BENEFITS_GIG),
    _t("建筑", "泥瓦工", "零工", ("日", 300, 380, 80), "不限", (20, 60), "男",
       ("会砌墙、贴砖",), ("建筑劳务", "装饰工程"), _BENEFITS_GIG),
    _t("建筑", "建筑小工", "零工", ("日", 180, 230, 50), "不限", (18, 60), "不限",
       ("身体健康，能干体力活",), ("建筑劳务",), _BENEFITS_GIG),
    _t("建筑", "施工员", "全职", ("月", 6000, 8000, 3000), "大专", (23, 45), "不限",
       ("土木工程相关专业", "持施工员证"), ("建筑工程", "建筑设计")),
    # 农业
    _t("农业", "茶叶采摘工", "零工", ("件", 8, 20, 10), "不限", (18, 65), "不限",
       ("会采摘茶叶优先，可现场教",), ("茶业", "农业专业合作社"), _BENEFITS_GIG),
    _t("农业", "蔬菜种植工", "全职/零工", ("日", 100, 140, 40), "不限", (18, 65), "不限",
       ("能下地干活",), ("农业专业合作社", "农业发展"), _BENEFITS_GIG),
    _t("农业", "养殖工", "全职", ("月", 3800, 4800, 1000), "不限", (20, 58), "不限",
       ("有生猪或家禽养殖经验优先", "能住场"), ("农业发展", "生态养殖")),
    _t("农业", "果园管理员", "全职", ("月", 3500, 4500, 1000), "初中", (25, 60), "不限",
       ("懂果树修剪、施肥",), ("农业发展", "农业专业合作社")),
    # 文员
    _t("文员", "行政文员", "全职", ("月", 3500, 4500, 1000), "大专", (20, 35), "不限",
       ("熟练使用Word、Excel", "做事细心，有责任心"), ("商贸", "物业服务", "电子科技", "建筑工程")),
    _t("文员", "单证员", "全职", ("月", 4000, 5000, 1000), "大专", (20, 35), "不限",
       ("熟悉进出口单证流程", "会英语读写优先"), ("外贸", "供应链管理")),
    _t("文员", "前台接待", "全职", ("月", 3300, 4000, 800), "高中/中专", (18, 30), "女",
       ("形象好，普通话标准",), ("电子科技", "酒店管理", "教育咨询")),
    _t("文员", "统计员", "全职", ("月", 3800, 4500, 800), "大专", (20, 40), "不限",
       ("会Excel函数", "统计或财会专业优先"), ("食品", "精密制造", "建筑工程")),
    # 销售
    _t("销售", "门店销售", "全职/兼职", ("月", 3500, 6000, 3000), "高中/中专", (18, 40), "不限",
       ("口齿伶俐", "有销售经验优先", "底薪加提成"), ("商贸", "通信服务", "家电销售")),
    _t("销售", "电话客服", "全职", ("月", 3500, 5000, 1500), "高中/中专", (18, 35), "不限",
       ("普通话标准，会打字", "能适应轮班"), ("通信服务", "电子商务")),
    _t("销售", "电商主播", "全职/兼职", ("月", 4000, 8000, 4000), "高中/中专", (18, 35), "不限",
       ("表达能力强", "能推介本地农特产品"), ("电子商务", "农业发展")),
    _t("销售", "汽车销售顾问", "全职", ("月", 4000, 9000, 4000), "大专", (20, 35), "不限",
       ("有C1驾照", "有销售经验优先"), ("汽车销售服务",)),
    # 教育
    _t("教育", "幼儿园保育员", "全职", ("月", 3000, 3800, 800), "高中/中专", (20, 45), "女",
       ("持保育员证优先", "喜欢小朋友", "持健康证"), ("幼儿园",)),
    _t("教育", "托管班老师", "全职/兼职", ("月", 3500, 4500, 1000), "大专", (20, 40), "不限",
       ("能辅导小学作业", "有教师资格证优先"), ("教育咨询",)),
    _t("教育", "培训学校助教", "兼职", ("时", 30, 50, 20), "大专", (18, 35), "不限",
       ("在校大学生可", "普通话标准"), ("教育咨询",), _BENEFITS_GIG),
    # 医护
    _t("医护", "护士", "全职", ("月", 4500, 6500, 2000), "大专", (20, 40), "不限",
       ("持护士执业证书", "有二级以上医院工作经验优先"), ("医院", "社区卫生服务中心")),
    _t("医护", "护工", "全职/零工", ("日", 180, 260, 60), "不限", (25, 60), "不限",
       ("有护理经验优先", "能陪护夜班"), ("医院后勤", "养老服务"), _BENEFITS_GIG),
    _t("医护", "药店营业员", "全职", ("月", 3500, 4500, 1000), "高中/中专", (20, 40), "不限",
       ("医药相关专业优先", "持健康证"), ("大药房",)),
    _t("医护", "康复理疗师", "全职", ("月", 5000, 7000, 2000), "大专", (22, 40), "不限",
       ("康复治疗专业", "持康复治疗士证"), ("医院", "养老服务")),
    # 其他
    _t("其他", "公益性岗位（护路员）", "全职", ("月", 1800, 2000, 200), "不限", (40, 60), "不限",
       ("本村户籍就业困难人员", "能每天巡查村组道路"), ("村民委员会",)),
    _t("其他", "社区网格员", "全职", ("月", 2800, 3500, 500), "高中/中专", (22, 45), "不限",
       ("会使用电脑和智能手机", "熟悉本社区情况优先"), ("街道办事处",)),
    _t("其他", "非遗蜡染手工艺人", "全职/零工", ("件", 50, 120, 80), "不限", (18, 65), "女",
       ("会蜡染或刺绣", "可居家加工"), ("民族文化", "服装")),
    _t("其他", "洗车工", "全职/零工", ("月", 3500, 4500, 1000), "不限", (18, 45), "男",
       ("能吃苦", "会驾驶优先"), ("汽车服务",)),
)

# employer kind -> suffixes; the name is "<place><brand><kind><suffix>"
_EMPLOYER_SUFFIX = {
    "村民委员会": "", "街道办事处": "", "幼儿园": "", "医院": "", "社区卫生服务中心": "",
    "农业专业合作社": "", "大药房": "连锁有限公司",
}
_PLACES = ("贵阳", "云岩", "南明", "观山湖", "花溪", "乌当", "白云", "清镇", "修文", "开阳", "息烽",
           "城东", "城西", "花果园", "金阳", "小河", "二戈寨", "龙洞堡", "新添寨", "中曹司", "沙冲")
_BRANDS = ("鑫源", "恒达", "宏远", "华泰", "金盛", "瑞丰", "黔城", "筑通", "安顺达", "兴业", "长顺",
           "银行家", "永和", "天行", "众合", "佳禾", "惠民", "百草", "宏图", "正大", "为民", "新华",
           "龙腾", "好运", "绿源", "山水", "和美", "阳光", "万家", "同心")
_ROADS = ("中华北路", "中山东路", "北京路", "延安中路", "宝山北路", "花溪大道", "遵义路", "新华路",
          "浣纱路", "沙冲路", "解放路", "黔灵山路", "长岭南路", "金阳南路", "小河大道", "兴关路")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_SOURCES = (("企业", 84), ("公益性岗位", 5), ("事业单位", 4), ("国企", 5), ("以工代赈项目", 2))
_PUBLIC_SOURCE_KINDS = {"村民委员会": "公益性岗位", "街道办事处": "公益性岗位", "医院": "事业单位",
                        "社区卫生服务中心": "事业单位", "幼儿园": "事业单位"}


def _employer(rng: random.Random, kind: str) -> str:
    place = rng.choice(_PLACES)
    if kind in ("村民委员会", "街道办事处"):
        return f"{place}{rng.choice(('新村', '和平村', '红旗社区', '新华社区', '龙井村'))}{kind}"
    if kind in ("医院", "社区卫生服务中心", "幼儿园"):
        return f"{place}{rng.choice(('区', '第一', '第二', '实验', '中心'))}{kind}"
    suffix = _EMPLOYER_SUFFIX.get(kind, rng.choice(("有限公司", "有限公司", "有限责任公司")))
    return f"{place}{rng.choice(_BRANDS)}{kind}{suffix}"


def _distance_km(rng: random.Random) -> float:
    """Most vacancies within the 3 km circle, some across town, a few farther away."""
    u = rng.random()
    if u < 0.65:
        return 3.0 * math.sqrt(rng.random())  # even over the disc's area
    if u < 0.92:
        return 3.0 + 12.0 * rng.random()
    return 15.0 + 65.0 * rng.random()


def _salary(rng: random.Random, spec: tuple[str, int, int, int], kind: str) -> tuple[int, int, str]:
    unit, lo, hi, spread = spec
    if kind == "零工" and unit == "月":
        unit, lo, hi, spread = "日", max(100, lo // 26), max(120, hi // 24), 40
    if kind == "兼职" and unit == "月":
        unit, lo, hi, spread = "时", 18, 28, 8
    step = 100 if unit == "月" else (10 if unit == "日" else 1)
    low = rng.randint(lo // step, hi // step) * step
    high = low + rng.randint(0, max(0, spread // step)) * step
    return low, high, unit


def sample_rows(*, origin: tuple[float, float], jobs: int = 300, seed: int = 7,
                today: dt.date | None = None) -> list[dict[str, Any]]:
    """Job rows (JSON-able dicts in the record format of :class:`protocol.model.Job`)."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    rows: list[dict[str, Any]] = []
    for i in range(1, jobs + 1):
        tpl = _TEMPLATES[rng.randrange(len(_TEMPLATES))]
        kind = rng.choice(tpl.kinds)
        employer_kind = rng.choice(tpl.employers)
        lat, lon = destination(origin[0], origin[1], rng.uniform(0, 360), _distance_km(rng))
        smin, smax, unit = _salary(rng, tpl.salary, kind)
        published = today - dt.timedelta(days=rng.randint(0, 30))
        work_date = None
        if kind == "零工":
            work_date = today + dt.timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 4, 5, 6)))
            valid_until = work_date
        else:
            valid_until = today + dt.timedelta(days=rng.randint(3, 60))
        age_min, age_max = tpl.ages
        if age_max is not None and rng.random() < 0.2:
            age_max = min(65, age_max + 5)
        requirements = "；".join(rng.sample(tpl.requirements, k=rng.randint(1, len(tpl.requirements))))
        benefits = "、".join(rng.sample(tpl.benefits, k=min(len(tpl.benefits), rng.randint(2, 4))))
        source = _PUBLIC_SOURCE_KINDS.get(employer_kind) or rng.choices(
            [s for s, _ in _SOURCES], weights=[w for _, w in _SOURCES])[0]
        headcount = rng.choice((1, 1, 2, 2, 3, 5, 10, 20)) if kind != "零工" else rng.randint(1, 30)
        job_id = f"job-{seed}-{i:06d}"
        rows.append({
            "id": job_id,
            "title": tpl.title,
            "employer": _employer(rng, employer_kind),
            "category": tpl.category,
            "kind": kind,
            "work_date": work_date.isoformat() if work_date else None,
            "salary_min": smin,
            "salary_max": smax,
            "salary_unit": unit,
            "headcount": headcount,
            "address": f"贵阳市{rng.choice(_ROADS)}{rng.randint(1, 399)}号",
            "latitude": round(lat, 6),
            "longitude": round(lon, 6),
            "age_min": age_min,
            "age_max": age_max,
            "gender": tpl.gender,
            "education": tpl.education,
            "requirements": requirements,
            "benefits": benefits,
            "contact_name": rng.choice(_SURNAMES) + rng.choice(("先生", "女士", "经理", "主管")),
            "contact_phone": f"0851-8{rng.randint(0, 9_999_999):07d}",
            "published": published.isoformat(),
            "valid_until": valid_until.isoformat(),
            "source": source,
            "url": f"https://jobs.example.cn/j/{job_id}",
        })
    return rows


def sample_jobs(*, origin: tuple[float, float], jobs: int = 300, seed: int = 7,
                today: dt.date | None = None) -> list[Job]:
    return [Job.model_validate(row) for row in sample_rows(origin=origin, jobs=jobs, seed=seed, today=today)]


# --------------------------------------------------------------------------------------------
# policies, events, announcements


def sample_policies(today: dt.date | None = None) -> list[Policy]:
    today = today or dt.date.today()
    year_start = dt.date(today.year, 1, 1)
    year_end = dt.date(today.year, 12, 31)
    rows = [
        dict(id="policy-jiuye-butie", category="就业补贴", title="吸纳就业一次性补贴",
             summary="企业招用登记失业人员、脱贫劳动力等重点群体并签订一年以上劳动合同、按月足额缴纳社会保险费的，"
                     "可按每人1000元申领一次性吸纳就业补贴。",
             body="为稳定和扩大就业，对吸纳重点群体就业的用人单位给予一次性吸纳就业补贴。\n"
                  "补贴标准：按实际吸纳人数，每人1000元，同一劳动者只能享受一次。\n"
                  "补贴资金从就业补助资金中列支，具体以当地人社部门最新规定为准。",
             who_qualifies="在本地依法登记注册的企业、民办非企业单位等用人单位；招用登记失业人员、脱贫劳动力、"
                           "毕业年度或离校2年内未就业高校毕业生，签订1年以上劳动合同并缴纳社会保险费满3个月。",
             how_to_apply="用人单位通过省人社网上办事大厅或到所在地公共就业服务机构提出申请，经审核公示后拨付至单位对公账户。",
             materials="1. 补贴申请表\n2. 营业执照复印件\n3. 劳动合同\n4. 社会保险缴费记录",
             effective_from=year_start, effective_to=year_end, hotline="12333"),
        dict(id="policy-chuangye-daikuan", category="创业扶持", title="创业担保贷款及贴息",
             summary="符合条件的个人创业者可申请最高30万元创业担保贷款，合伙创业的可适当提高额度；"
                     "小微企业最高可申请400万元，按规定享受财政贴息。",
             body="创业担保贷款由政府出资设立担保基金，经办银行发放，财政按规定给予贴息。\n"
                  "个人贷款期限最长3年，贷款利率上限为LPR加一定基点，贴息部分由财政承担。\n"
                  "对还款积极、带动就业能力强的创业者，可继续给予贷款支持。",
             who_qualifies="城镇登记失业人员、就业困难人员、返乡创业农民工、毕业5年内高校毕业生、退役军人、"
                           "脱贫人口等，在本地创办个体工商户或小微企业的。",
             how_to_apply="到户籍所在地或创业所在地人社部门（就业服务站可代为咨询和预审）提交申请，经担保机构和经办银行审核后放款。",
             materials="1. 身份证\n2. 营业执照\n3. 创业项目计划书\n4. 符合人员类别的证明材料",
             effective_from=year_start, effective_to=None, hotline="12333"),
        dict(id="policy-peixun-butie", category="培训补贴", title="职业技能培训补贴",
             summary="参加政府补贴性职业技能培训并取得职业资格证书、职业技能等级证书或专项职业能力证书的，"
                     "按取证等级给予培训补贴；就业困难人员等参训期间可领取生活费补贴。",
             body="培训工种包括家政服务员、养老护理员、育婴员、电工、焊工、中式烹调师、电子商务师等。\n"
                  "取得初级证书的补贴标准一般为每人800至1200元，中级、高级逐级提高，具体以当地目录为准。\n"
                  "培训由定点培训机构组织，学员无需预先缴费。",
             who_qualifies="在法定劳动年龄内、有培训意愿的城乡劳动者，重点是农村转移劳动力、脱贫劳动力、"
                           "登记失业人员、高校毕业生和退役军人。",
             how_to_apply="在服务站登记培训需求，由定点培训机构通知开班；结业取证后由培训机构统一申报或个人申领。",
             materials="1. 身份证\n2. 培训合格证书\n3. 银行卡（社保卡）",
             effective_from=year_start, effective_to=year_end, hotline="12333"),
        dict(id="policy-fanxiang-chuangye", category="返乡创业", title="返乡创业一次性补贴",
             summary="返乡农民工、大学生等首次创办小微企业或个体工商户，正常经营6个月以上并带动就业的，"
                     "可申领5000元一次性创业补贴。",
             body="鼓励外出务工人员返乡创业、带动家乡就业。\n"
                  "首次创业且正常经营满6个月，吸纳本地劳动力就业的，给予一次性创业补贴5000元。\n"
                  "在返乡创业园区内创业的，可按规定减免场地租金。",
             who_qualifies="返乡农民工、返乡大学生、退役军人等，首次在本地领取营业执照并正常经营6个月以上。",
             how_to_apply="向创业所在地乡镇（街道）人社服务中心申请，服务站可协助准备材料。",
             materials="1. 身份证\n2. 营业执照\n3. 经营场所证明\n4. 吸纳就业人员名单",
             effective_from=year_start, effective_to=year_end, hotline="12333"),
        dict(id="policy-shebao-butie", category="社保", title="灵活就业人员社会保险补贴",
             summary="就业困难人员、离校2年内未就业高校毕业生灵活就业后缴纳社会保险费的，"
                     "可按实际缴费的三分之二申领社会保险补贴，期限最长3年。",
             body="灵活就业包括零工、个体经营、非全日制用工等。\n"
                  "补贴按季度申领，先缴后补，补贴标准不超过其实际缴费的三分之二。\n"
                  "距法定退休年龄不足5年的人员，可延长至退休。",
             who_qualifies="经认定的就业困难人员、离校2年内未就业高校毕业生，以灵活就业方式就业并以个人身份缴纳养老、医疗保险费。",
             how_to_apply="每季度首月向户籍或常住地人社部门提出申请，也可在服务站自助终端登记后由工作人员代办。",
             materials="1. 身份证或社保卡\n2. 灵活就业登记证明\n3. 社会保险缴费凭证",
             effective_from=year_start, effective_to=year_end, hotline="12333"),
        dict(id="policy-jiuye-yuanzhu", category="援助", title="就业援助与公益性岗位托底安置",
             summary="对就业困难人员、零就业家庭成员提供“一对一”就业援助：优先推荐岗位、免费职业指导和培训，"
                     "通过市场渠道难以就业的，按规定安排公益性岗位。",
             body="服务站对辖区就业困难人员建立台账，实行实名制动态管理。\n"
                  "每月至少提供3个合适岗位信息，做到“零就业家庭”动态清零。\n"
                  "公益性岗位按当地最低工资标准给予岗位补贴和社会保险补贴。",
             who_qualifies="大龄失业人员、残疾人、零就业家庭成员、脱贫劳动力、城乡低保家庭劳动力等经认定的就业困难人员。",
             how_to_apply="带身份证到服务站申请就业困难人员认定，工作人员登记后提供援助服务。",
             materials="1. 身份证\n2. 户口簿\n3. 相关困难证明（如残疾证、低保证）",
             effective_from=None, effective_to=None, hotline="12333"),
        dict(id="policy-qiuzhi-butie", category="就业补贴", title="求职创业补贴",
             summary="毕业年度内有就业创业意愿并积极求职的低保家庭、脱贫家庭、残疾等困难高校毕业生，"
                     "可申领一次性求职创业补贴。",
             body="补贴标准为每人1500元（以当地标准为准），由毕业生所在高校统一申报。",
             who_qualifies="毕业年度内的困难家庭高校毕业生（含技工院校）。",
             how_to_apply="在校期间通过学校就业指导部门申报。",
             materials="1. 身份证\n2. 困难情况证明\n3. 学籍证明",
             effective_from=year_start, effective_to=year_end, hotline="12333"),
    ]
    return [Policy.model_validate(r) for r in rows]


def fair_days_ahead(today: dt.date) -> int:
    """Days from ``today`` to the sample job fair: the coming Saturday (a week on, on a Saturday)."""
    return (5 - today.weekday()) % 7 or 7


def sample_events(today: dt.date | None = None) -> list[Event]:
    today = today or dt.date.today()

    def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(today + dt.timedelta(days=days), dt.time(hour, minute))

    # Dates agree with their words: the weekly 零工对接日 is on a Wednesday (today if it is
    # one), the big fair on the coming Saturday (the "本周六" of the board's notice).
    wednesday = (2 - today.weekday()) % 7
    saturday = fair_days_ahead(today)

    rows = [
        dict(id="event-chunfeng", title="“春风行动”就业服务专场招聘会", event_kind="招聘会",
             starts_at=at(saturday, 9), ends_at=at(saturday, 12), place="城东社区文化广场", organiser="云岩区人力资源和社会保障局",
             employers=46, job_count=1280, registration="无需报名，带身份证和个人简历到现场；现场可扫码投递。"),
        dict(id="event-lingong", title="零工对接日（每周三）", event_kind="招聘会",
             starts_at=at(wednesday, 8, 30), ends_at=at(wednesday, 11, 30), place="服务站门口零工驿站", organiser="城东社区人社便民服务站",
             employers=8, job_count=60, registration="到服务站登记零工意向即可。"),
        dict(id="event-jiazheng", title="家政服务员（育婴员）免费培训班", event_kind="培训班",
             starts_at=at(7, 9), ends_at=at(16, 17), place="云岩区职业技能培训中心三楼", organiser="贵阳市家政服务协会",
             employers=0, job_count=0, registration="在服务站登记培训需求或拨打0851-12333报名，名额50人，结业可考取证书。"),
        dict(id="event-dianshang", title="农村电商直播带货培训班", event_kind="培训班",
             starts_at=at(12, 14), ends_at=at(14, 17), place="乌当区电商服务中心", organiser="乌当区商务局",
             employers=0, job_count=0, registration="在服务站自助终端登记培训需求。"),
        dict(id="event-past", title="高校毕业生专场招聘会", event_kind="招聘会",
             starts_at=at(-10, 9), ends_at=at(-10, 12), place="贵阳国际会议展览中心", organiser="贵阳市人才交流服务中心",
             employers=120, job_count=3500, registration="已结束"),
    ]
    return [Event.model_validate(r) for r in rows]


def sample_announcements(now: dt.datetime | None = None) -> list[Announcement]:
    now = now or dt.datetime.now().replace(microsecond=0)
    day = dt.timedelta(days=1)
    fair = now.date() + dt.timedelta(days=fair_days_ahead(now.date()))
    rows = [
        dict(id="notice-storm", text="暴雨黄色预警：今明两天户外零工注意安全，服务站门口零工对接改到室内大厅。",
             priority="urgent", starts_at=now - dt.timedelta(hours=2), ends_at=now + 2 * day, target="both"),
        dict(id="notice-hours", text="服务站办公时间：周一至周五 9:00-17:30，咨询电话0851-12333。",
             priority="normal", starts_at=now - 30 * day, ends_at=now + 365 * day, target="both"),
        dict(id="notice-training", text="家政服务员免费培训班正在报名，在本机“培训登记”即可报名。",
             priority="normal", starts_at=now - day, ends_at=now + 7 * day, target="kiosk"),
        dict(id="notice-fair", text=f"{fair.month}月{fair.day}日（周六）上午城东社区文化广场“春风行动”招聘会，"
                                    "46家企业1280个岗位，欢迎参加。",
             priority="normal", starts_at=now - day,
             ends_at=dt.datetime.combine(fair, dt.time(12, 0)), target="board"),
        dict(id="notice-old", text="春节返乡人员登记已结束，感谢参与。",
             priority="normal", starts_at=now - 60 * day, ends_at=now - 30 * day, target="both"),
    ]
    return [Announcement.model_validate(r) for r in rows]


# --------------------------------------------------------------------------------------------
# training videos

_VIDEOS = (
    ("course-jiazheng", "家政服务员岗前培训", "家政服务",
     ("第一课：进门礼仪", "穿鞋套、问好、确认服务内容", "不乱动客户的贵重物品", "第二课：厨房清洁",
      "先上后下，先里后外", "灶台油污用温水加洗洁精", "第三课：照护老人", "起身要慢，扶稳再走",
      "按时提醒吃药，记录血压", "有事先联系家属和公司")),
    ("course-anquan", "安全用电常识", "安全生产",
     ("第一课：用电常识", "不私拉乱接电线", "湿手不碰开关插座", "大功率电器不共用插排",
      "第二课：触电急救", "发现有人触电先断电", "用干木棍挑开电线", "拨打120，做心肺复苏",
      "第三课：持证上岗", "电工作业必须持证，规范操作")),
)
# A training video of real length (2.5 minutes): one slide every 15 seconds. Two frames a
# second are enough for slides and keep the file small (tens of kilobytes a minute).
TRAINING_VIDEO_SECONDS = 150.0
TRAINING_VIDEO_FPS = 2


def sample_courses(media_dir: Path, *, seconds: float = 3.0, size: tuple[int, int] = (320, 240),
                   fps: int = 10, narrate: bool = False) -> list[Course]:
    """Two training videos and thumbnails written into ``media_dir``; their Course records.

    With ``narrate`` each slide's line is spoken (espeak-ng) as the slide appears, and the sound
    is muxed in with ffmpeg (mono AAC at 16 kbit/s: a 150 s video stays a few hundred KB)."""
    media_dir = Path(media_dir)
    media_dir.mkdir(parents=True, exist_ok=True)
    courses = []
    for course_id, title, category, lines in _VIDEOS:
        slides: dict[str, Any] = {}  # each slide is drawn once; frames only add the moving progress bar

        def frame(i: int, slides: dict[str, Any] = slides, title: str = title, lines: Any = lines) -> Any:
            line = lines[min(len(lines) - 1, int(i * len(lines) / (seconds * fps)))]
            if line not in slides:
                slides[line] = _frame(title, line, size)
            return _with_progress(slides[line], i / max(1, seconds * fps - 1))

        frames = [frame(i) for i in range(int(seconds * fps))]
        data = _encode_video(frames, size, fps)
        if narrate:
            data = _with_narration(data, [f"{title}。{lines[0]}", *lines[1:]], seconds)
        video = _store_media(media_dir, data, "mp4", "video/mp4")
        thumb = _store_media(media_dir, _png(frames[0]), "png", "image/png")
        courses.append(Course(id=course_id, title=title, category=category, duration_s=max(1, round(seconds)),
                              media=video, thumbnail=thumb, subtitle="\n".join(lines)))
    return courses


def _frame(title: str, line: str, size: tuple[int, int]) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    from common.fonts import find_cjk_font

    width, height = size
    image = Image.new("RGB", size, (18, 78, 140))
    draw = ImageDraw.Draw(image)
    font_path = str(find_cjk_font(None))
    big = ImageFont.truetype(font_path, max(14, height // 10))
    small = ImageFont.truetype(font_path, max(12, height // 14))
    draw.rectangle((0, 0, width, height // 5), fill=(240, 170, 30))
    draw.text((width // 2, height // 10), title, font=big, fill=(20, 20, 20), anchor="mm")
    draw.text((width // 2, height // 2), line, font=small, fill=(255, 255, 255), anchor="mm")
    return image


def _with_progress(slide: Any, done: float) -> Any:
    """The slide with a progress bar at the bottom, so that playback visibly advances."""
    from PIL import ImageDraw

    image = slide.copy()
    width, height = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, height - 18, width - 10, height - 12), fill=(60, 110, 170))
    draw.rectangle((10, height - 18, 10 + int((width - 20) * done), height - 12), fill=(255, 255, 255))
    return image


def _encode_video(frames: list[Any], size: tuple[int, int], fps: int) -> bytes:
    from ffpyplayer.pic import Image as FFImage
    from ffpyplayer.tools import get_codecs
    from ffpyplayer.writer import MediaWriter

    width, height = size
    codec = "libx264" if "libx264" in get_codecs(encode=True, video=True) else "mpeg4"
    with tempfile.TemporaryDirectory(prefix="yizhan-video-") as tmp:
        path = Path(tmp) / "video.mp4"
        # one thread and bit-exact flags: the same frames always give the same bytes (and hash)
        opts = {"threads": "1", "flags": "+bitexact", "fflags": "+bitexact"}
        if codec == "libx264":
            opts["x264-params"] = "threads=1:lookahead-threads=1:sliced-threads=0:rc-lookahead=0:mbtree=0"
        writer = MediaWriter(str(path), [dict(pix_fmt_in="rgb24", width_in=width, height_in=height,
                                              codec=codec, frame_rate=(fps, 1), pix_fmt_out="yuv420p")],
                             lib_opts=opts, overwrite=True)
        try:
            for i, frame in enumerate(frames):
                img = FFImage(plane_buffers=[frame.tobytes()], pix_fmt="rgb24", size=(width, height))
                writer.write_frame(img=img, pts=i / fps, stream=0)
        finally:
            writer.close()
        return path.read_bytes()


NARRATION_VOICE = ("espeak-ng", "-v", "cmn", "-s", "150")
NARRATION_BITRATE = "16k"


def _narration_wav(lines: list[str], seconds: float, path: Path) -> None:
    """One WAV as long as the video: each line spoken at the start of its slide, silence between."""
    import subprocess
    import wave

    slide_s = seconds / len(lines)
    params, pcm = None, bytearray()
    with tempfile.TemporaryDirectory(prefix="yizhan-voice-") as tmp:
        for i, line in enumerate(lines):
            part = Path(tmp) / f"{i}.wav"
            subprocess.run([*NARRATION_VOICE, "-w", str(part), line], check=True, capture_output=True, timeout=60)
            with wave.open(str(part), "rb") as w:
                params = params or w.getparams()
                frame = params.sampwidth * params.nchannels
                start = round(i * slide_s * params.framerate) * frame
                pcm.extend(b"\0" * max(0, start - len(pcm)))  # silence up to this slide
                del pcm[start:]  # a line longer than its slide is cut at the next one
                pcm.extend(w.readframes(w.getnframes()))
    assert params is not None
    total = round(seconds * params.framerate) * params.sampwidth * params.nchannels
    pcm = pcm[:total] + b"\0" * max(0, total - len(pcm))
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(bytes(pcm))


def _with_narration(video: bytes, lines: list[str], seconds: float) -> bytes:
    """``video`` with the spoken ``lines`` as an AAC sound track (ffmpeg copies the video stream)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="yizhan-narrate-") as tmp:
        silent, voice, out = Path(tmp) / "silent.mp4", Path(tmp) / "voice.wav", Path(tmp) / "narrated.mp4"
        silent.write_bytes(video)
        _narration_wav(lines, seconds, voice)
        # bit-exact flags and no metadata: the same slides give the same bytes (and content hash)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(silent), "-i", str(voice),
                        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", NARRATION_BITRATE,
                        "-ac", "1", "-ar", "16000", "-threads", "1", "-map_metadata", "-1",
                        "-fflags", "+bitexact", "-flags:a", "+bitexact", "-movflags", "+faststart", str(out)],
                       check=True, capture_output=True, timeout=300)
        return out.read_bytes()


def _png(image: Any) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _store_media(media_dir: Path, data: bytes, ext: str, mime: str) -> MediaRef:
    digest = hashlib.sha256(data).hexdigest()
    target = media_dir / f"{digest}.{ext}"
    if not target.exists():
        write_atomic(target, data, durable=False)
    return MediaRef(sha256=digest, size=len(data), type=mime, ext=ext)


# --------------------------------------------------------------------------------------------


def sample_content(*, origin: tuple[float, float], jobs: int = 300, seed: int = 7, today: dt.date | None = None,
                   media_dir: Path | None = None) -> ContentSet:
    """A whole, realistic content set around ``origin`` (see the module docstring)."""
    today = today or dt.date.today()
    now = dt.datetime.combine(today, dt.datetime.now().time()).replace(microsecond=0)
    return ContentSet(
        jobs=sample_jobs(origin=origin, jobs=jobs, seed=seed, today=today),
        policies=sample_policies(today),
        events=sample_events(today),
        courses=sample_courses(media_dir) if media_dir is not None else [],
        announcements=sample_announcements(now),
    )
