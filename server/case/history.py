"""A synthetic history of the demo city (``gridops demo history``): two years (by default) of cases in
历下区, drawn set-based and written with COPY, yet each case carrying the events of a legal path through the
workflow (server.case.flows), its step and receipt clocks on the city's calendar (server.case.clock),
call-backs as the three rates read them and citizens' ratings.

Counts per day x community (社区) x category x channel are Poisson draws of a rate that is the product of the
factors below (docs/HISTORY.md explains each); everything that shapes them is in the constants of this
module and is stored with the generated history (table ``demo_history``) as its ground truth, with the
surges and hot spots actually planted, so warnings and forecasts can be measured against it.

History cases are marked by their client UUID (``HISTORY_UUID_LOW`` to ``HISTORY_UUID_HIGH``): a new history
deletes the previous one by that range, never another case."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.auth.models import User
from server.case.clock import calendar, clock_kind
from server.case.models import DemoHistory
from server.category.models import (
    Category,
    CategoryDistrictDepartment,
    CategoryRequestLimit,
    Department,
    RequestType,
)
from server.config import get_settings
from server.grid.models import GridAssignment, in_force, today
from server.worktime.calendar import parse_step_limits

DISTRICT = "370102"  # 历下区: the district the demo covers with unit grids
HISTORY_UUID_LOW = "48495354-0000-0000-0000-000000000000"  # "HIST" in hex: every history case's UUID
HISTORY_UUID_HIGH = "48495354-ffff-ffff-ffff-ffffffffffff"
BASE_PER_DAY = 240.0  # expected reports a day over the district before the factors below
TREND_PER_YEAR = 0.08  # a slow growth: +8 % a year (more people use the hotline and the app)
CHANNELS = ("inspector", "hotline", "citizen", "open311")
# Each channel's share of reports, and its factor on a day off (weekend or public holiday): inspectors
# patrol less on days off, citizens are at home and report more.
CHANNEL_SHARE = {"inspector": 0.45, "hotline": 0.30, "citizen": 0.18, "open311": 0.07}
DAY_OFF_FACTOR = {"inspector": 0.35, "hotline": 1.15, "citizen": 1.3, "open311": 1.2}
HOLIDAY_FACTOR = {"inspector": 0.15, "hotline": 0.9, "citizen": 1.0, "open311": 1.0}  # 春节, 国庆...
REQUEST_TYPES = {"complaint": 0.7, "help": 0.12, "consult": 0.08, "suggest": 0.05, "tipoff": 0.05}
# Hours of the day (local) reports come in, by profile: weights of hours 0 to 23.
HOURS = {
    "day": [1, 0, 0, 0, 0, 1, 2, 5, 9, 10, 10, 9, 6, 7, 9, 10, 9, 8, 6, 5, 4, 3, 2, 1],
    "night": [8, 6, 3, 1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 7, 10, 12, 12, 11, 10],
    "early": [2, 1, 1, 1, 2, 4, 8, 10, 10, 8, 6, 5, 4, 4, 4, 4, 4, 4, 3, 3, 2, 2, 2, 2],
}
WORK_HOURS = [0] * 8 + [10, 10, 10, 6] + [0, 0] + [10, 10, 10, 8] + [0] * 6  # inspectors' reports
# Category: share of reports, seasonal profile (factor by month 1-12), hour profile, phrase pool key.
FLAT = [1.0] * 12
CATEGORIES = {
    "E06010": (0.14, [0.9, 1.1, 1.0, 1.0, 1.0, 1.1, 1.2, 1.2, 1.0, 1.0, 0.9, 0.9], "day"),
    "E06012": (0.08, FLAT, "day"),
    "E03006": (0.06, [0.9, 1.2, 1.0, 1.0, 1.0, 1.1, 1.2, 1.2, 1.0, 1.0, 0.9, 0.9], "early"),
    "E09009": (0.13, FLAT, "day"),
    "E09010": (0.07, [0.7, 0.7, 1.0, 1.2, 1.2, 1.1, 1.0, 1.0, 1.2, 1.2, 0.9, 0.8], "day"),
    "E09006": (0.07, [0.6, 0.6, 0.9, 1.1, 1.2, 1.3, 1.3, 1.3, 1.1, 1.0, 0.8, 0.7], "night"),
    "E07001": (0.08, FLAT, "day"),
    "E08001": (0.06, [0.4, 0.3, 1.0, 1.2, 1.3, 1.3, 1.2, 1.2, 1.2, 1.2, 1.0, 0.5], "night"),
    "E08005": (0.04, [0.6, 0.6, 1.6, 1.8, 1.4, 1.0, 0.6, 0.6, 1.0, 1.2, 1.0, 0.7], "day"),
    "E06029": (0.05, [0.1, 0.1, 0.3, 0.7, 1.5, 2.6, 3.2, 3.0, 1.6, 0.6, 0.2, 0.1], "night"),
    "E09015": (0.05, [0.6, 0.7, 0.9, 1.0, 1.2, 1.4, 1.5, 1.4, 1.1, 1.0, 0.7, 0.6], "night"),
    "E06025": (0.03, [0.0, 0.0, 0.1, 0.3, 0.6, 1.5, 5.0, 4.5, 0.8, 0.2, 0.0, 0.0], "day"),
    "E06026": (0.02, [5.5, 2.5, 0.3, 0, 0, 0, 0, 0, 0, 0, 0.4, 3.3], "early"),
    "E01002": (0.04, FLAT, "day"),
    "E01037": (0.04, [1.3, 1.2, 1.0, 0.8, 0.7, 0.7, 0.8, 0.8, 0.9, 1.1, 1.3, 1.4], "night"),
    "E10099": (
        0.04,
        [1.2, 0.6, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.4, 4.0, 4.3],
        "early",
    ),  # 供暖 complaints
}
HEATING = "E10099"  # 其他问题: the starter taxonomy has no heating category; its reports are about heating
HEATING_DEPARTMENT = "subdistrict"
# Departments: median handling time as a fraction of the limit, return rate, rework rate, extension rate,
# median receipt delay as a fraction of the receipt limit, share of satisfied / basically satisfied callers.
PERFORMANCE = {
    "sanitation_lx": (0.35, 0.02, 0.04, 0.02, 0.3, 0.86, 0.10),
    "sanitation": (0.45, 0.03, 0.05, 0.03, 0.4, 0.80, 0.13),
    "enforcement": (0.60, 0.06, 0.08, 0.05, 0.6, 0.68, 0.18),
    "traffic_police": (0.40, 0.04, 0.05, 0.02, 0.5, 0.75, 0.15),
    "housing": (0.90, 0.10, 0.12, 0.12, 0.9, 0.55, 0.22),
    "water": (0.50, 0.03, 0.06, 0.06, 0.4, 0.78, 0.14),
    "municipal": (0.70, 0.05, 0.07, 0.08, 0.7, 0.70, 0.17),
    "subdistrict": (0.80, 0.08, 0.10, 0.10, 0.8, 0.62, 0.20),
    "power": (0.40, 0.02, 0.04, 0.03, 0.3, 0.84, 0.11),
}
SPREAD = 0.6  # the log-normal spread of handling and receipt times
VOID_SHARE, NOT_FOUND_SHARE = 0.02, 0.02
CALLBACK_SHARE, CONTACT_SHARE, RATING_SHARE = 0.85, 0.9, 0.3
HOT_SPOTS = 5  # communities x categories with a persistent, much higher rate (长期高频)
HOT_SPOT_FACTOR = (4.0, 8.0)
SURGES = 4  # community x category surges (突增), plus one area-wide
SURGE_FACTOR = (4.0, 8.0)
SURGE_WEEKS = (1, 3)
AREA_SURGE_FACTOR = 2.5  # one category over the whole district (e.g. a storm's flooding)
COMMUNITY_WEIGHT_SHAPE = 2.0  # gamma shape of the communities' relative size (mean 1)

Progress = Callable[[str, int, int], None]


@dataclass
class Summary:
    cases: int
    events: int
    first_day: date
    last_day: date


# -- descriptions --------------------------------------------------------------------------------------------
# A report is composed of parts, each left out at random: a greeting, where (who is speaking from where), what
# (the category's own pool: the many ways people say it, with the words related categories share, 垃圾 in
# exposed garbage and in bins, 停车 in cars and bikes, 噪音 on building sites and in shops, water around
# 积水 and manhole covers), how long, its effect on people, what they ask. A share says almost nothing.
GREETINGS = [
    "你好，",
    "喂你好，",
    "我想反映个事，",
    "我是附近的居民，",
    "打扰一下，",
    "我要投诉，",
    "麻烦问一下，",
]
PLACES = [
    "我家楼下",
    "我们小区门口",
    "小区北门",
    "单元楼前面",
    "路口",
    "公交站旁边",
    "菜市场边上",
    "学校门口",
    "超市后面",
    "巷子里",
    "桥底下",
    "公园东门",
    "商铺门前",
    "停车场里",
    "地铁口",
    "十字路口东南角",
    "我们单位门口",
    "医院对面",
    "老年活动中心旁边",
    "幼儿园门口",
    "小区3号楼后面",
    "沿街门面那一排",
    "路边绿化带",
    "文化东路上",
    "山大路北口",
    "经十路辅路",
    "历山路和文化西路交叉口",
    "洪家楼那边",
    "燕山立交桥下",
    "我们这栋楼东边",
]
DURATIONS = [
    "好几天了",
    "一个多星期了",
    "从昨天晚上开始就这样",
    "天天这样",
    "已经半个月了",
    "今天早上发现的",
    "都一两个月了",
    "反映过好几次了",
    "刚才路过看到的",
    "每天都是这样",
]
EFFECTS = ["影响大家出行", "居民意见很大", "太影响生活了", "看着太不像样了", "走路都不方便"]
ASKS = [
    "麻烦来看看",
    "赶紧处理一下吧",
    "希望有关部门管一管",
    "能不能派人来看看",
    "麻烦尽快处理，谢谢",
    "都没人管，太不像话了",
    "请尽快解决",
    "谢谢",
    "麻烦赶紧派人来",
    "希望早点解决",
]
VAGUE = [
    "楼下这个问题一直没人管，麻烦来看看",
    "我们这边的情况上次反映过了，到现在还没解决",
    "小区门口那个事能不能管一管",
    "又是老问题，麻烦派人来看一下",
    "路口这里乱得很，请处理一下",
    "这个问题说了好多次了，还是没人管",
    "附近有个情况需要处理，你们来了就知道",
    "还是那个地方，还是那个问题",
    "请相关部门过来看看，影响很大",
    "这边环境太差了，都没人管",
    "我们这里有问题，麻烦来处理",
    "上周打过电话，到现在也没人来",
]
VAGUE_SHARE = 0.08
HOME_PLACES = ["我家", "我们楼", "我们单元", "我们小区", "我家里"]  # where heating fails: indoors
# Per category: what people say (WHAT) and what it does to them (its own effects, besides the shared ones).
WHAT = {
    "E06010": [
        "垃圾堆了好几堆没人清",
        "有一堆装修垃圾扔在路边",
        "垃圾袋扔得到处都是",
        "生活垃圾乱堆，招苍蝇",
        "有人把旧沙发床垫扔在这",
        "绿化带里全是垃圾",
        "路边垃圾堆成小山了",
        "建筑垃圾倒在人行道上",
        "垃圾没人收，堆在墙角",
        "外卖盒子塑料袋扔了一地",
        "有人往空地上倒垃圾",
        "垃圾堆发臭了",
        "树坑里塞满了垃圾",
        "楼道口堆了很多杂物垃圾",
    ],
    "E06012": [
        "路面很脏，到处是泥",
        "地上全是油污和纸屑",
        "路面有大片污渍没人扫",
        "马路上全是泥巴，车一过就溅",
        "人行道上都是树叶和烟头",
        "路上撒了一地沙子",
        "地面黑乎乎的全是油",
        "路面好久没扫了，脏得很",
        "渣土撒在路上没人清",
        "路边全是狗屎，没法走",
        "早市散了以后地上一片狼藉",
        "马路牙子边上脏得不行",
    ],
    "E03006": [
        "垃圾桶满了往外溢",
        "垃圾箱坏了，盖子掉了",
        "分类垃圾桶满得塞不进去",
        "垃圾桶好几天没人清，满得冒尖",
        "垃圾桶倒了，垃圾撒一地",
        "垃圾箱烂了个大洞",
        "垃圾桶旁边堆满了袋子，桶都装不下了",
        "果皮箱满了没人倒",
        "垃圾桶太少了根本不够用",
        "垃圾桶被人拖走了，只剩一个",
        "垃圾桶轮子坏了推不动",
        "垃圾桶臭得很，一直没清洗",
    ],
    "E09009": [
        "汽车停在人行道上，走路都得绕",
        "有车堵住消防通道",
        "车乱停把小区出口堵死了",
        "私家车占了盲道",
        "路边双排停车，路都堵了",
        "有辆车停在路口好几天不动",
        "大货车停在小区门口",
        "车停在斑马线上",
        "出租车在这乱停等客",
        "有车堵着我家车库门",
        "停车太乱了，救护车都进不来",
        "有辆车趴在人行道上一直没挪",
    ],
    "E09010": [
        "共享单车堆成一片",
        "电动车停满了人行道",
        "自行车倒了一地没人扶",
        "共享单车把盲道全占了",
        "电瓶车乱停，路都走不了",
        "单车堆在地铁口出不去",
        "门口停满了电动车和自行车",
        "共享电单车横七竖八的",
        "电动车乱停，推婴儿车过不去",
        "有人把自行车锁在栏杆上好久没动",
        "停车乱得很，全是电动车",
        "非机动车停到了机动车道上",
    ],
    "E09006": [
        "有人摆摊卖水果占了半条路",
        "晚上小摊一排，人都过不去",
        "推着车卖东西的小贩把路堵了",
        "三轮车卖菜的把路口堵了",
        "早上好多人在路边摆摊卖菜",
        "有卖烤地瓜的车天天停在这",
        "路边摆地摊的越来越多",
        "小贩占着人行道卖东西",
        "学校门口一堆小摊卖吃的",
        "卖衣服的在路边铺了一地",
        "流动摊点一到傍晚就出来",
        "摊子摆到马路上了，车都过不去",
    ],
    "E07001": [
        "电线杆上贴满了小广告",
        "墙上喷了办证电话",
        "楼道里全是开锁小广告",
        "单元门上贴的小广告撕了又贴",
        "墙上到处是喷涂的电话号码",
        "路灯杆上贴的都是贷款广告",
        "小区里到处是疏通下水道的小广告",
        "公交站牌上贴满了小卡片",
        "有人在墙上刷广告",
        "楼梯扶手上都贴着小广告",
        "配电箱上贴得密密麻麻",
        "新刷的墙又被喷了号码",
    ],
    "E08001": [
        "半夜工地还在打桩",
        "晚上十一点了还在施工，吵得睡不着",
        "工地机器一大早就响",
        "旁边工地电锯声太吵了",
        "工地晚上加班干活噪音很大",
        "施工队凌晨还在卸钢筋",
        "工地的搅拌机响了一整夜",
        "挖掘机大半夜还在挖",
        "施工噪音太大，孩子没法学习",
        "工地周末也不停，天天咣咣响",
        "旁边楼在装修，敲敲打打一整天",
        "凌晨五点就开始施工",
    ],
    "E08005": [
        "工地上灰很大，到处灰扑扑的",
        "渣土车没盖布，一路掉土",
        "裸土没有覆盖，风一刮全是灰",
        "工地也不洒水，尘土飞扬",
        "拆迁的地方灰太大了",
        "工地出来的车轮子全是泥",
        "窗户一开全是灰",
        "工地没围挡，沙土乱飞",
        "土堆没盖网，刮风全是土",
        "施工现场灰尘呛人",
        "工地门口的路上全是土",
        "拉土的车一趟一趟的，灰大得很",
    ],
    "E06029": [
        "晚上有人在外面烤串，烟熏得开不了窗",
        "烧烤摊一直摆到凌晨，油烟很大",
        "夜市烤串烟太大",
        "路边烤羊肉串的烟呛死人",
        "楼下烧烤店把炉子搬到外面烤",
        "一到晚上就有人在马路边烤串",
        "烧烤的油烟全飘进家里",
        "露天烤肉摊占了人行道",
        "烧烤摊晚上吵，烟也大",
        "木炭烧烤烟熏火燎的",
        "夜里烤串的摊子越来越多",
        "烧烤炉就摆在楼底下",
    ],
    "E09015": [
        "商铺喇叭放音乐声音太大",
        "门头音响一直在喊",
        "广场舞音响太响",
        "店门口大喇叭循环喊打折",
        "酒吧音乐开到半夜",
        "KTV声音太大吵得睡不着",
        "超市门口喇叭一天到晚放",
        "卖手机的店音响震得窗户响",
        "早上六点就有人放音乐跳舞",
        "饭店门口放音乐拉客",
        "楼下店铺噪音太大了",
        "健身房音乐声太吵",
    ],
    "E06025": [
        "下完雨积水没过脚踝",
        "路面积水很深，车都过不去",
        "雨水口堵了，一下雨就淹",
        "桥洞下面积水很深",
        "一下雨小区门口就成河了",
        "路上积水好几天不退",
        "积水把人行道淹了",
        "下水口被树叶堵了，水排不下去",
        "路口积水，电动车都熄火了",
        "低洼的地方全是水",
        "雨后马路上一片汪洋",
        "井盖那块一直往外冒水，积了一大片",
    ],
    "E06026": [
        "路面结冰了很滑，有人摔倒",
        "积雪没人清，路上全是冰",
        "台阶上结了冰",
        "坡道结冰车上不去",
        "人行道上的雪都踩成冰了",
        "下了雪到现在没人扫",
        "桥面结冰太危险了",
        "小区门口的冰好几天了没人管",
        "路上的雪化了又冻上",
        "公交站那里全是冰",
        "出门太滑了，走不了路",
        "学校门口的雪没人铲",
    ],
    "E01002": [
        "井盖没了，晚上很危险",
        "井盖碎了一半",
        "井盖松动，车一过就响",
        "路中间井盖塌下去了",
        "井盖被偷了，留了个大洞",
        "下水井盖翘起来了",
        "井盖裂了，人踩上去晃",
        "井盖下沉了，车过去颠一下",
        "窨井盖移位了露出个口子",
        "井盖不见了，有人用树枝插着",
        "人行道上的井盖坏了",
        "井口没盖，小孩子很危险",
    ],
    "E01037": [
        "一排路灯都不亮",
        "路灯坏了好几天，晚上黑乎乎的",
        "路灯白天亮晚上不亮",
        "整条路的灯都灭了",
        "路灯一闪一闪的",
        "小区外面那几盏路灯不亮了",
        "晚上路上没灯",
        "路灯杆歪了灯也不亮",
        "这一段路黑灯瞎火的",
        "路灯到半夜就灭了",
        "好几盏路灯都坏了没人修",
        "晚上下班回来路上一点光都没有",
    ],
    HEATING: [
        "暖气不热，屋里才十几度",
        "供暖到现在还没来",
        "暖气片冰凉",
        "暖气时热时不热",
        "交了取暖费暖气还不热",
        "暖气管子漏水",
        "家里暖气上半截热下半截凉",
        "全楼暖气都不热",
        "暖气跑水了，楼下都淹了",
        "屋里冷得穿棉袄",
        "暖气阀门坏了没人来修",
        "换热站那边一直有问题",
    ],
}
OWN_EFFECTS = {
    "E06010": ["味道特别大", "招了好多苍蝇蚊子", "夏天臭得受不了"],
    "E06012": ["走路一脚泥", "下雨天更没法走"],
    "E03006": ["周围臭烘烘的", "野猫野狗都来翻"],
    "E09009": ["老人孩子只能走机动车道", "消防车进不来很危险", "早晚高峰堵得不行"],
    "E09010": ["推轮椅过不去", "盲人没法走"],
    "E09006": ["车和人挤在一起很危险", "垃圾扔得到处都是"],
    "E07001": ["刚刷的墙又花了", "看着特别乱"],
    "E08001": ["晚上根本睡不着", "孩子要高考了", "家里老人心脏不好"],
    "E08005": ["窗户都不敢开", "家里到处是灰", "呼吸都难受"],
    "E06029": ["烟大得开不了窗", "衣服都熏臭了", "吵到半夜"],
    "E09015": ["晚上睡不着", "吵得头疼"],
    "E06025": ["车都过不去", "鞋都湿透了", "怕有漏电危险"],
    "E06026": ["已经有人摔倒了", "老人不敢出门"],
    "E01002": ["晚上看不见容易掉下去", "车压上去很危险"],
    "E01037": ["晚上走路害怕", "已经有人绊倒了"],
    HEATING: ["家里老人孩子冻感冒了", "屋里冷得坐不住"],
}
# How often each part is said: greeting, place, how long, effect, ask (what is always said).
PART_SHARES = (0.25, 0.75, 0.5, 0.45, 0.6)
# Callers' reports first registered under a wrong, related category (what the caller's words suggested) and
# moved to the right one by the acceptor once the inspector has seen it (改类), before filing.
MISFILED_SHARE = 0.06
RELATED = {
    "E06010": ["E03006", "E06012"], "E06012": ["E06010"], "E03006": ["E06010"], "E09009": ["E09010"],
    "E09010": ["E09009"], "E09006": ["E06029", "E09009"], "E07001": ["E06012"], "E08001": ["E09015"],
    "E08005": ["E06012"], "E06029": ["E09006"], "E09015": ["E08001"], "E06025": ["E01002"],
    "E06026": ["E06012"], "E01002": ["E06025"],
}  # fmt: skip
# Categories whose configured department often returns the case as not its own, and the department the
# dispatcher then sends it to, which handles it (the share of the category's dispatched cases).
REROUTES = {
    "E09006": ("subdistrict", 0.35),  # 流动摊贩: 执法支队 -> 属地街道办事处 (占道经营 in the streets' hands)
    "E07001": ("subdistrict", 0.35),  # 非法小广告: 环卫处 -> 属地街道 (the communities clean them)
    "E06025": ("municipal", 0.30),  # 道路积水: 水务集团 -> 市政 (the road's own drains)
}
REASONS = {
    "void": "现场核实无此问题",
    "reclassify": "经现场核实，问题类别登记有误",
    "reroute_return": "不属于本单位职责，请改派",
    "reroute": "原单位回退，改派职责单位办理",
    "not_found": "现场未发现所述问题",
    "return": "需其他单位配合，先行回退",
    "redispatch": "经协调，仍由原单位牵头处置",
    "extension": "需协调产权单位，处置时间不足",
    "rework": "现场仍有残留，需返工",
}


def describe(rng: np.random.Generator, codes: np.ndarray) -> list[str]:
    """A colloquial report per case of category ``codes``: its parts drawn at once, joined per case."""
    draws = rng.random((len(codes), 12))
    said = draws[:, :5] < np.array(PART_SHARES)
    vague = draws[:, 5] < VAGUE_SHARE
    effects = {c: EFFECTS + OWN_EFFECTS[c] for c in WHAT}

    def pick(pool: list[str], x: float) -> str:
        return pool[int(x * len(pool))]

    def one(c: str, x: np.ndarray, say: np.ndarray) -> str:
        where = HOME_PLACES if c == HEATING else PLACES
        parts = [(pick(where, x[8]) if say[1] else "") + pick(WHAT[c], x[7])]
        parts += [pick(pool, y) for pool, y, s in ((DURATIONS, x[9], say[2]), (effects[c], x[10], say[3]),
                                                    (ASKS, x[11], say[4])) if s]  # fmt: skip
        return (pick(GREETINGS, x[6]) if say[0] else "") + "，".join(parts)

    return [
        pick(VAGUE, x[6]) if v else one(c, x, say)
        for c, x, say, v in zip(codes, draws, said, vague, strict=True)
    ]


# -- the world the history happens in ------------------------------------------------------------------------
@dataclass
class World:
    communities: list[str]  # village (社区) codes
    units: list[tuple]  # (id, code, path, lon, lat, community index)
    categories: dict[str, Category]
    departments: dict[str, Department]
    lead: dict[str, Department]  # each category's department in the district
    request_types: dict[str, RequestType]
    own_limits: dict[tuple[int, str], str]
    acceptor: User
    shift_lead: User
    inspectors: dict[str, User]  # by community code (or street code) of their assignment
    any_inspector: User


def load_world(db: Session) -> World:
    """The city's grids, taxonomy and people the history is made of. The history is written as the schema's
    owner (its triggers off), whom the city policies do not hold: every read here names the session's city."""
    city = func.gridops_city()
    units = db.execute(
        text(
            """
            SELECT u.id, u.code, u.path::text, ST_X(p.pt), ST_Y(p.pt), u.parent_code
            FROM grid u CROSS JOIN LATERAL (SELECT ST_PointOnSurface(u.geom) AS pt) p
            WHERE u.valid_to IS NULL AND u.level = 'unit' AND u.code LIKE :district
              AND u.city_id = gridops_city()
            ORDER BY u.code
            """
        ),
        {"district": f"{DISTRICT}%"},
    ).all()
    communities = sorted({u[5] for u in units})
    index = {c: i for i, c in enumerate(communities)}
    categories = {
        c.code: c
        for c in db.scalars(select(Category).where(Category.code.in_(CATEGORIES), Category.city_id == city))
    }
    if not units or len(categories) < len(CATEGORIES):
        raise LookupError("the demo city's unit grids or starter taxonomy are missing")
    departments = {d.code: d for d in db.scalars(select(Department).where(Department.city_id == city))}
    by_id = {d.id: d for d in departments.values()}
    overrides = {
        o.category_id: by_id[o.department_id]
        for o in db.scalars(
            select(CategoryDistrictDepartment).where(
                CategoryDistrictDepartment.district_code == DISTRICT,
                CategoryDistrictDepartment.city_id == city,
            )
        )
    }
    lead = {
        code: overrides.get(c.id) or by_id.get(c.department_id) or departments[HEATING_DEPARTMENT]
        for code, c in categories.items()
    }
    users = list(db.scalars(select(User).where(User.active, User.city_id == city).order_by(User.id)))
    assigned = db.execute(
        select(GridAssignment.grid_code, User)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.role == "inspector", in_force(today()), User.active, GridAssignment.city_id == city
        )
        .order_by(GridAssignment.id)
    ).all()
    inspectors = {code: user for code, user in assigned}
    any_inspector = next(u for u in users if "inspector" in u.roles)
    return World(
        communities=communities,
        units=[(u[0], u[1], u[2], u[3], u[4], index[u[5]]) for u in units],
        categories=categories,
        departments=departments,
        lead=lead,
        request_types={t.code: t for t in db.scalars(select(RequestType))},
        own_limits={
            (o.category_id, o.request_type): o.handling_limit
            for o in db.scalars(select(CategoryRequestLimit).where(CategoryRequestLimit.city_id == city))
        },
        acceptor=next(u for u in users if "acceptor" in u.roles),
        shift_lead=next(u for u in users if "shift_lead" in u.roles),
        inspectors=inspectors,
        any_inspector=any_inspector,
    )


# -- the ground truth: what shapes the counts ----------------------------------------------------------------
def plant(rng: np.random.Generator, world: World, first: date, days: int) -> dict:
    """The generating parameters of one history, and the hot spots and surges drawn for it (ground truth)."""
    n = len(world.communities)
    weights = rng.gamma(COMMUNITY_WEIGHT_SHAPE, 1 / COMMUNITY_WEIGHT_SHAPE, n)
    common = ["E06010", "E09009", "E07001", "E06012", "E09010", "E09006"]
    spots = set()
    while len(spots) < HOT_SPOTS:
        spots.add((int(rng.integers(n)), common[int(rng.integers(len(common)))]))
    hot = [
        {
            "grid": world.communities[v],
            "category": c,
            "factor": round(float(rng.uniform(*HOT_SPOT_FACTOR)), 2),
        }
        for v, c in sorted(spots)
    ]
    surges = []
    monday = first + timedelta(days=(7 - first.weekday()) % 7)  # surges start on Mondays: whole weeks
    weeks_in = max(1, (first + timedelta(days=days) - monday).days // 7)
    for k in range(SURGES + 1):
        weeks = int(rng.integers(SURGE_WEEKS[0], SURGE_WEEKS[1] + 1))
        start = monday + timedelta(weeks=int(rng.integers(1, max(2, weeks_in - weeks))))
        end = min(start + timedelta(weeks=weeks) - timedelta(days=1), first + timedelta(days=days - 1))
        if k == SURGES:  # area-wide: one category over the whole district
            surges.append(
                {
                    "grid": DISTRICT,
                    "category": "E09009",
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "factor": AREA_SURGE_FACTOR,
                }
            )
            continue
        taken = {(h["grid"], h["category"]) for h in hot + surges}
        while True:
            grid, category = world.communities[int(rng.integers(n))], common[int(rng.integers(len(common)))]
            if (grid, category) not in taken:
                break
        factor = round(float(rng.uniform(*SURGE_FACTOR)), 2)
        surges.append(
            {
                "grid": grid,
                "category": category,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "factor": factor,
            }
        )
    return {
        "district": DISTRICT,
        "level": "village",
        "base_per_day": BASE_PER_DAY,
        "trend_per_year": TREND_PER_YEAR,
        "channel_share": CHANNEL_SHARE,
        "day_off_factor": DAY_OFF_FACTOR,
        "holiday_factor": HOLIDAY_FACTOR,
        "request_types": REQUEST_TYPES,
        "hours": HOURS,
        "inspector_hours": WORK_HOURS,
        "categories": {c: {"share": s, "season": m, "hours": h} for c, (s, m, h) in CATEGORIES.items()},
        "heating_category": HEATING,
        "community_weights": {g: round(float(w), 4) for g, w in zip(world.communities, weights, strict=True)},
        "hot_spots": hot,
        "surges": surges,
        "departments": {
            code: dict(
                zip(
                    ("handling", "return", "rework", "extension", "receipt", "satisfied", "basically"),
                    p,
                    strict=True,
                )
            )
            for code, p in PERFORMANCE.items()
        },
        "shares": {
            "void": VOID_SHARE,
            "not_found": NOT_FOUND_SHARE,
            "callback": CALLBACK_SHARE,
            "contacted": CONTACT_SHARE,
            "rating": RATING_SHARE,
        },
    }


def expected(truth: dict, world: World, days: list[date], cal) -> np.ndarray:
    """The expected count per day x community x category x channel (the Poisson means the history draws)."""
    cats = list(CATEGORIES)
    share = np.array([CATEGORIES[c][0] for c in cats])
    season = np.array([[CATEGORIES[c][1][d.month - 1] for c in cats] for d in days])  # day x category
    trend = np.array([1 + TREND_PER_YEAR * (d - days[0]).days / 365.25 for d in days])
    weights = np.array([truth["community_weights"][g] for g in world.communities])
    rate = BASE_PER_DAY * trend[:, None, None] * weights[None, :, None] / weights.sum()
    rate = rate * (share / share.sum())[None, None, :] * season[:, None, :]
    where = {g: i for i, g in enumerate(world.communities)}
    for spot in truth["hot_spots"]:
        rate[:, where[spot["grid"]], cats.index(spot["category"])] *= spot["factor"]
    for surge in truth["surges"]:
        span = [i for i, d in enumerate(days) if surge["start"] <= d.isoformat() <= surge["end"]]
        c = cats.index(surge["category"])
        if surge["grid"] == DISTRICT:
            rate[span, :, c] *= surge["factor"]
        else:
            rate[span, where[surge["grid"]], c] *= surge["factor"]
    off = np.array([not cal.is_workday(d) for d in days])
    holiday = np.array([not cal.is_workday(d) and d.weekday() < 5 for d in days])
    per_channel = []
    for ch in CHANNELS:
        factor = np.where(holiday, HOLIDAY_FACTOR[ch], np.where(off, DAY_OFF_FACTOR[ch], 1.0))
        per_channel.append(rate * (CHANNEL_SHARE[ch] * factor)[:, None, None])
    return np.stack(per_channel, axis=-1)


# -- the cases and their paths -------------------------------------------------------------------------------
class Limits:
    """A case's step limits (minutes on its clock) by category, request type and urgency, as the intake and
    the actions compute them (server.case.clock), read once."""

    def __init__(self, world: World) -> None:
        self.world, self.settings, self.cache = world, get_settings(), {}

    def of(self, category: str, request_type: str) -> tuple:
        key = (category, request_type)
        if key not in self.cache:
            cat, rt = self.world.categories[category], self.world.request_types[request_type]
            kind = clock_kind(cat, cat.urgency)
            cal = calendar(kind)
            own = self.world.own_limits.get((cat.id, request_type))
            handle = (
                cal.parse_limit(own)
                if own
                else min(cal.parse_limit(x) for x in filter(None, [cat.handling_limit, rt.handling_limit]))
            )
            self.cache[key] = (
                kind,
                cal,
                cal.parse_limit(parse_step_limits(self.settings.verify_limits)[cat.urgency]),
                cal.parse_limit(parse_step_limits(self.settings.dispatch_limits)[cat.urgency]),
                handle,
                cal.parse_limit(self.settings.check_limit_urban),
                cal.parse_limit(rt.response_limit or self.settings.receipt_limit),
            )
        return self.cache[key]


def minutes(m: float) -> timedelta:
    return timedelta(minutes=float(m))


def simulate(
    c: dict, u: np.ndarray, ln: np.ndarray, world: World, limits: Limits, now: datetime
) -> list[tuple]:
    """The events of one case up to ``now`` (at, action, state before, state after, actor, role, note, data,
    due), following the workflow's actions; sets the case's own columns in ``c`` as those actions would."""
    kind, cal, verify, dispatch_min, handle, check, receipt = limits.of(c["category"], c["request_type"])
    right, wrong = c["category"], c["filed_as"]
    configured = world.lead[right]
    # the configured department returns it and another one handles it (REROUTES), else the configured one
    target = REROUTES.get(right)
    reroute = target is not None and u[21] < target[1]
    dept = world.departments[target[0]] if reroute else configured
    speed, ret, rework, ext, receipt_speed, satisfied, basically = PERFORMANCE[dept.code]
    inspector = world.inspectors.get(c["community"]) or world.any_inspector
    acceptor, lead = world.acceptor, world.shift_lead
    staff = (None, dept.name)
    events: list[tuple] = []
    state = "registered" if c["channel"] == "inspector" else "reported"
    t = c["received_at"]
    intake = world.lead[wrong] if wrong else configured  # the department of the category registered
    c.update(category=wrong or right, clock=kind, department_id=intake.id, version=1)

    def due(start, limit):
        return cal.add(start, limit)

    def act(at, action, after, who, role, note=None, data=None, clock=None):
        nonlocal state, step
        if at > now:
            return False
        if clock is not None:
            step = clock
        events.append((at, action, state, after, who, role, note, data or {}, step[2] if step else None))
        state = after
        c["version"] += 1
        return True

    reporter = (inspector.id, inspector.name) if c["channel"] == "inspector" else (None, c["reporter_name"])
    step = (t, dispatch_min, due(t, dispatch_min))
    events.append(
        (
            t,
            "report",
            None,
            state,
            reporter,
            c["channel_role"],
            c["description"],
            {"channel": c["channel"], "grids": c["grids"], "department": intake.code},
            step[2],
        )
    )
    done = True
    if c["channel"] != "inspector":
        t += minutes(5 + 35 * u[0])
        who = (acceptor.id, acceptor.name)
        c["task_assignee_id"] = inspector.id
        done = act(
            t,
            "request_verification",
            "verifying",
            who,
            "acceptor",
            data={"inspector": {"id": inspector.id, "name": inspector.name}},
            clock=(t, verify, due(t, verify)),
        )
        t += minutes(15 + 90 * u[1])
        found = u[2] >= NOT_FOUND_SHARE
        result = "confirmed" if found else "not_found"
        done = done and act(
            t,
            "reply_verification",
            "registered",
            (inspector.id, inspector.name),
            "inspector",
            data={"result": result},
            clock=(t, dispatch_min, due(t, dispatch_min)),
        )
        if done and not found:
            t += minutes(10 + 60 * u[3])
            act(
                t,
                "void",
                "voided",
                (lead.id, lead.name),
                "shift_lead",
                data={"reason": REASONS["not_found"]},
                clock=(t, 0, None),
            )
            return _finish(c, events, state, step, cal)
        if done and wrong:  # 改类: the inspector saw what it is; the case takes its category's department
            t += minutes(5 + 30 * u[23])
            names = world.categories[wrong].name, world.categories[right].name
            moved = {"from": wrong, "to": right, "from_name": names[0], "to_name": names[1]}
            done = act(
                t,
                "reclassify",
                "registered",
                who,
                "acceptor",
                data={**moved, "reason": REASONS["reclassify"]},
            )
            if done:
                c.update(category=right, department_id=configured.id)
    if done and u[3] < VOID_SHARE:
        t += minutes(10 + 60 * u[4])
        act(
            t,
            "void",
            "voided",
            (lead.id, lead.name),
            "shift_lead",
            data={"reason": REASONS["void"]},
            clock=(t, 0, None),
        )
        return _finish(c, events, state, step, cal)
    t += minutes(3 + 25 * u[4])
    done = done and act(
        t, "file", "filed", (lead.id, lead.name), "shift_lead", data={"dispatch_center": None}
    )
    dispatches = []
    returned = reroute or u[5] < ret
    leads = [configured, dept] if reroute else [dept] * (2 if returned else 1)
    for attempt, to in enumerate(leads):
        t += minutes(3 + 25 * u[6])
        handle_due = due(t, handle)
        receipt_due = due(t, receipt)
        data = {
            "departments": {"lead": to.code, "parallel": []},
            "receipt_due": receipt_due.isoformat(),
            "handle_due": handle_due.isoformat(),
        }
        if attempt:
            data["reason"] = REASONS["reroute" if reroute else "redispatch"]
        if not (
            done
            and act(
                t,
                "dispatch",
                "dispatched",
                (lead.id, lead.name),
                "dispatcher",
                data=data,
                clock=(t, handle, handle_due),
            )
        ):
            return _finish(c, events, state, step, cal, dispatches)
        dispatches.append([to.id, t, None])
        c.update(
            first_department_id=leads[0].id,
            department_id=to.id,
            dispatched_at=t,
            handle_due_at=handle_due,
            receipt_limit_min=receipt,
            receipt_due_at=receipt_due,
            receipt_yellow_at=cal.subtract(receipt_due, limits.settings.yellow_fraction * receipt),
            received_by_department_at=None,
            handle_limit=handle,
        )
        if attempt == 0 and returned:
            t += minutes(30 + 200 * u[7])
            if not act(
                t,
                "return",
                "returned",
                (None, to.name),
                "department",
                data={"reason": REASONS["reroute_return" if reroute else "return"]},
                clock=(t, dispatch_min, due(t, dispatch_min)),
            ):
                return _finish(c, events, state, step, cal, dispatches)
            dispatches[-1][2] = t
    dispatched = t
    t = max(t + minutes(1), cal.add(t, receipt * receipt_speed * ln[0]))
    if not act(t, "receive", "dispatched", staff, "department", data={"on_time": t <= c["receipt_due_at"]}):
        return _finish(c, events, state, step, cal, dispatches)
    c["received_by_department_at"] = t
    if u[8] < ext:
        t += minutes(30 + 120 * u[9])
        request = {"extension": f"{handle}m", "minutes": handle, "reason": REASONS["extension"]}
        if not act(t, "request_extension", "dispatched", staff, "department", data=request):
            return _finish(c, events, state, step, cal, dispatches)
        t += minutes(10 + 60 * u[10])
        c["extension_request"] = request
        handle_due = cal.add(c["handle_due_at"], handle)
        if not act(
            t,
            "approve_extension",
            "dispatched",
            (lead.id, lead.name),
            "dispatcher",
            data={**request, "handle_due": handle_due.isoformat()},
            clock=(dispatched, step[1] + handle, handle_due),
        ):
            return _finish(c, events, state, step, cal, dispatches)
        c.update(extension_request=None, handle_due_at=handle_due, handle_limit=step[1])
    for round_ in range(2 if u[11] < rework else 1):
        t = max(t + minutes(5), cal.add(t, handle * speed * ln[1 + round_] * (0.3 if round_ else 1)))
        if not act(
            t,
            "report_handling",
            "handled",
            staff,
            "department",
            data={"on_time": t <= c["handle_due_at"]},
            clock=(t, dispatch_min, due(t, dispatch_min)),
        ):
            return _finish(c, events, state, step, cal, dispatches)
        c["handled_at"] = t
        t += minutes(10 + 50 * u[12])
        c["task_assignee_id"] = inspector.id
        if not act(
            t,
            "request_check",
            "checking",
            (acceptor.id, acceptor.name),
            "acceptor",
            data={"inspector": {"id": inspector.id, "name": inspector.name}},
            clock=(t, check, due(t, check)),
        ):
            return _finish(c, events, state, step, cal, dispatches)
        t += minutes(20 + 90 * u[13])
        again = round_ == 0 and u[11] < rework
        if again:
            c["rework_count"] = 1
            c["handled_at"] = None
            if not act(
                t,
                "reply_check",
                "dispatched",
                (inspector.id, inspector.name),
                "inspector",
                note=REASONS["rework"],
                data={"result": "rework"},
                clock=(dispatched, cal.between(dispatched, c["handle_due_at"]), c["handle_due_at"]),
            ):
                return _finish(c, events, state, step, cal, dispatches)
            continue
        if not act(
            t,
            "reply_check",
            "checked",
            (inspector.id, inspector.name),
            "inspector",
            data={"result": "pass"},
            clock=(t, dispatch_min, due(t, dispatch_min)),
        ):
            return _finish(c, events, state, step, cal, dispatches)
    t += minutes(10 + 100 * u[14])
    close_kind = "overdue" if c["handled_at"] > c["handle_due_at"] else "normal"
    if not act(
        t,
        "close",
        "closed",
        (lead.id, lead.name),
        "shift_lead",
        data={"kind": close_kind},
        clock=(t, 0, None),
    ):
        return _finish(c, events, state, step, cal, dispatches)
    c.update(closed_at=t, close_kind=close_kind)
    if c["channel"] != "inspector" and u[15] < CALLBACK_SHARE:
        t += timedelta(hours=4 + 60 * u[16])
        contacted = bool(u[17] < CONTACT_SHARE)
        data = {"contacted": contacted}
        if contacted:
            mood = u[18]
            data["satisfaction"] = (
                "satisfied"
                if mood < satisfied
                else "basically_satisfied"
                if mood < satisfied + basically
                else "not_satisfied"
            )
            data["solved"] = bool(mood < satisfied + basically or u[19] < 0.3)
        act(t, "callback", "closed", (acceptor.id, acceptor.name), "acceptor", data=data)
        if c["channel"] in ("citizen", "open311") and u[20] < RATING_SHARE and t <= now:
            base = 5 - int(3 * u[18] * (1 - satisfied))
            c["rating"] = (base, max(1, base - int(u[19] * 2)), base, max(1, base - int(u[20] * 4)), t)
    return _finish(c, events, state, step, cal, dispatches)


def _finish(c: dict, events: list, state: str, step, cal, dispatches=()) -> list[tuple]:
    """The case's state at the end of its events and its running step clock (none when it is over)."""
    c["state"], c["dispatches"] = state, list(dispatches)
    c["version"] = 1 + sum(1 for e in events[1:])
    if state in ("closed", "voided", "merged") or step is None or step[2] is None:
        c.update(step_started_at=None, step_limit_min=None, step_due_at=None, step_yellow_at=None)
    else:
        c.update(
            step_started_at=step[0],
            step_limit_min=step[1],
            step_due_at=step[2],
            step_yellow_at=cal.subtract(step[2], get_settings().yellow_fraction * step[1]),
        )
    return events


def _copy(db: Session, table: str, columns: list[str], rows) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buf.seek(0)
    cursor = db.connection().connection.cursor()
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


HISTORY_CASES = (
    f"SELECT id FROM case_file WHERE client_uuid BETWEEN '{HISTORY_UUID_LOW}' AND '{HISTORY_UUID_HIGH}'"
    " AND city_id = gridops_city()"
)
# The triggers a bulk load turns off (as the schema's owner, inside its transaction): the summaries are
# rebuilt afterwards, the tiles' cells recomputed, and nobody listens to two years of changes.
BULK_OFF = {
    "case_file": [
        "case_file_notify",
        "case_file_cells",
        "stats_case_file_insert",
        "stats_case_file_update",
        "stats_case_file_delete",
    ],
    "case_event": ["case_event_append_only", "stats_case_event_insert"],
}


def _triggers(db: Session, enable: bool) -> None:
    for table, names in BULK_OFF.items():
        for name in names:
            db.execute(text(f"ALTER TABLE {table} {'ENABLE' if enable else 'DISABLE'} TRIGGER {name}"))


def delete_history(db: Session) -> int:
    """Delete the previous history's cases and everything attached to them (set-based); other cases that
    name one of them (a duplicate or repeat of it) stop naming it. Needs the bulk triggers off."""
    db.execute(text(f"CREATE TEMP TABLE old_history ON COMMIT DROP AS {HISTORY_CASES}"))
    for column in ("duplicate_of_id", "repeat_of_id", "merged_into_id"):
        db.execute(
            text(f"UPDATE case_file SET {column} = NULL WHERE {column} IN (SELECT id FROM old_history)")
        )
    for table in (
        "case_event",
        "case_dispatch",
        "public_rating",
        "public_report",
        "open311_request",
        "case_supervision",
        "caller_reveal",
        "case_photo",
    ):
        db.execute(text(f"DELETE FROM {table} WHERE case_id IN (SELECT id FROM old_history)"))
    gone = db.execute(text("DELETE FROM case_file WHERE id IN (SELECT id FROM old_history)")).rowcount
    db.execute(text("DROP TABLE old_history"))
    db.execute(text("DELETE FROM demo_history WHERE city_id = gridops_city()"))
    return gone


def generate(
    *, db: Session, days: int, seed: int, now: datetime | None = None, progress: Progress = lambda *a: None
) -> Summary:
    """Replace the history with ``days`` days up to ``now`` drawn from ``seed``; commit; rebuild nothing
    (the caller rebuilds the statistics summaries). ``db`` must be the schema owner's."""
    now = now or db.scalar(select(func.now()))
    settings = get_settings()
    cal = calendar()
    world = load_world(db)
    rng = np.random.default_rng(seed)
    last = now.astimezone(cal.tz).date()
    day_list = [last - timedelta(days=days - 1 - i) for i in range(days)]
    truth = plant(rng, world, day_list[0], days)
    counts = rng.poisson(expected(truth, world, day_list, cal))
    d, v, k, ch = np.nonzero(counts)
    reps = counts[d, v, k, ch]
    d, v, k, ch = (np.repeat(a, reps) for a in (d, v, k, ch))
    n = len(d)
    progress("抽取案件", 1, 1)
    cats = list(CATEGORIES)
    hour = np.empty(n, dtype=int)
    for ci, c in enumerate(cats):
        for chi, channel in enumerate(CHANNELS):
            sel = (k == ci) & (ch == chi)
            weights = np.array(WORK_HOURS if channel == "inspector" else HOURS[CATEGORIES[c][2]], dtype=float)
            hour[sel] = rng.choice(24, int(sel.sum()), p=weights / weights.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    midnight = np.array([datetime.combine(day, datetime.min.time(), cal.tz).timestamp() for day in day_list])
    stamp = midnight[d] + seconds
    units_of = [[] for _ in world.communities]
    for i, unit in enumerate(world.units):
        units_of[unit[5]].append(i)
    unit = np.array([units_of[x][int(r * len(units_of[x]))] for x, r in zip(v, rng.random(n), strict=True)])
    types = list(REQUEST_TYPES)
    request = rng.choice(len(types), n, p=np.array(list(REQUEST_TYPES.values())))
    keep = stamp <= now.timestamp()
    order = np.argsort(stamp[keep], kind="stable")
    d, v, k, ch, stamp, unit, request = (a[keep][order] for a in (d, v, k, ch, stamp, unit, request))
    n = len(d)
    descriptions = describe(rng, np.array(cats)[k])
    uniforms = rng.random((n, 24))
    spreads = rng.lognormal(0, SPREAD, (n, 3))

    # codes: per local day, after the numbers other cases took that day
    taken = dict(
        db.execute(
            text(
                "SELECT split_part(code, '-', 2), max(split_part(code, '-', 3)::int) FROM case_file "
                "WHERE district_code = :district GROUP BY 1"
            ),
            {"district": DISTRICT},
        ).all()
    )
    progress("删除旧的历史", 0, 1)
    _triggers(db, enable=False)
    delete_history(db)
    progress("删除旧的历史", 1, 1)
    ids = db.scalars(
        text("SELECT nextval(pg_get_serial_sequence('case_file', 'id')) FROM generate_series(1, :n)"),
        {"n": n},
    ).all()
    limits = Limits(world)
    numbers: dict[str, int] = {}
    cases, events = [], []
    for i in range(n):
        received = datetime.fromtimestamp(float(stamp[i]), UTC)
        day = day_list[d[i]].strftime("%Y%m%d")
        numbers[day] = numbers.get(day, int(taken.get(day) or 0)) + 1
        uid, code, path, lon, lat, _ = world.units[unit[i]]
        channel = CHANNELS[ch[i]]
        related = RELATED.get(cats[k[i]]) if channel != "inspector" else None
        misfiled = related and uniforms[i, 22] < MISFILED_SHARE
        c = {
            "id": ids[i],
            "code": f"{DISTRICT}-{day}-{numbers[day]:04d}",
            "category": cats[k[i]],
            "filed_as": related[int(uniforms[i, 22] / MISFILED_SHARE * len(related))] if misfiled else None,
            "request_type": "complaint" if channel == "inspector" else types[request[i]],
            "channel": channel,
            "channel_role": "inspector" if channel == "inspector" else "acceptor",
            "community": world.communities[v[i]],
            "received_at": received,
            "description": descriptions[i],
            "reporter_name": None if channel == "inspector" else "市民",
            "grids": path.split("."),
            "task_assignee_id": None,
            "first_department_id": None,
            "dispatched_at": None,
            "handled_at": None,
            "closed_at": None,
            "close_kind": None,
            "rework_count": 0,
            "handle_due_at": None,
            "extension_request": None,
            "receipt_limit_min": None,
            "receipt_due_at": None,
            "receipt_yellow_at": None,
            "received_by_department_at": None,
            "rating": None,
            "unit": (
                uid,
                code,
                path,
                lon + (uniforms[i, 0] - 0.5) * 1e-4,
                lat + (uniforms[i, 1] - 0.5) * 1e-4,
            ),
        }
        case_events = simulate(c, uniforms[i], spreads[i], world, limits, now)
        cases.append(c)
        events.extend((c["id"], *e) for e in case_events)
        if i % 5000 == 0 or i == n - 1:
            progress("生成流转记录", i + 1, n)
    _write(db, world, cases, events, progress)
    for day, last_number in numbers.items():
        db.execute(
            text(
                "INSERT INTO case_counter (district_code, day, last) VALUES (:d, :day, :last) "
                "ON CONFLICT (city_id, district_code, day) "
                "DO UPDATE SET last = greatest(case_counter.last, :last)"
            ),
            {"d": DISTRICT, "day": datetime.strptime(day, "%Y%m%d").date(), "last": last_number},
        )
    db.execute(text("DELETE FROM case_cell"))
    db.execute(text("INSERT INTO case_cell SELECT * FROM case_cell_source"))
    _triggers(db, enable=True)
    db.add(
        DemoHistory(
            seed=seed,
            days=days,
            first_day=day_list[0],
            last_day=last,
            generated_at=now,
            cases=n,
            truth={**truth, "yellow_fraction": settings.yellow_fraction},
        )
    )
    # The planner's statistics of the tables just rewritten, now: until autovacuum gets to them, estimates
    # from before the load make the dashboards' joins take minutes instead of seconds.
    db.execute(text("ANALYZE case_file, case_event, case_dispatch, public_rating, case_cell, case_counter"))
    db.commit()
    return Summary(n, len(events), day_list[0], last)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _write(db: Session, world: World, cases: list[dict], events: list[tuple], progress: Progress) -> None:
    columns = [
        "id",
        "code",
        "client_uuid",
        "content_hash",
        "channel",
        "state",
        "version",
        "category_id",
        "urgency",
        "request_type",
        "clock",
        "description",
        "address",
        "location",
        "accuracy_m",
        "position_source",
        "reported_crs",
        "grid_id",
        "grid_code",
        "grid_path",
        "district_code",
        "rural",
        "reporter_id",
        "reporter_name",
        "reporter_phone",
        "received_at",
        "department_id",
        "first_department_id",
        "task_assignee_id",
        "step_started_at",
        "step_limit_min",
        "step_due_at",
        "step_yellow_at",
        "handle_due_at",
        "extension_request",
        "receipt_limit_min",
        "receipt_due_at",
        "receipt_yellow_at",
        "received_by_department_at",
        "dispatched_at",
        "handled_at",
        "closed_at",
        "close_kind",
        "rework_count",
    ]
    high = uuid.UUID(HISTORY_UUID_LOW).int

    def case_row(c: dict) -> tuple:
        uid, code, path, lon, lat = c["unit"]
        category = world.categories[c["category"]]
        inspector = c["channel"] == "inspector"
        return (
            c["id"],
            c["code"],
            uuid.UUID(int=high + c["id"]),
            "history",
            c["channel"],
            c["state"],
            c["version"],
            category.id,
            category.urgency,
            c["request_type"],
            c["clock"],
            c["description"],
            None,
            f"SRID=4326;POINT({lon:.7f} {lat:.7f})",
            10.0 if inspector else None,
            "gps" if inspector else None,
            "wgs84",
            uid,
            code,
            path,
            DISTRICT,
            "f",
            None,
            c["reporter_name"],
            None,
            _ts(c["received_at"]),
            c["department_id"],
            c["first_department_id"],
            c["task_assignee_id"],
            _ts(c["step_started_at"]),
            c["step_limit_min"],
            _ts(c["step_due_at"]),
            _ts(c["step_yellow_at"]),
            _ts(c["handle_due_at"]),
            json.dumps(c["extension_request"], ensure_ascii=False) if c["extension_request"] else None,
            c["receipt_limit_min"],
            _ts(c["receipt_due_at"]),
            _ts(c["receipt_yellow_at"]),
            _ts(c["received_by_department_at"]),
            _ts(c["dispatched_at"]),
            _ts(c["handled_at"]),
            _ts(c["closed_at"]),
            c["close_kind"],
            c["rework_count"],
        )

    progress("写入案件", 0, 4)
    _copy(db, "case_file", columns, map(case_row, cases))
    progress("写入案件", 1, 4)
    _copy(
        db,
        "case_event",
        [
            "case_id",
            "at",
            "actor_id",
            "actor_name",
            "role",
            "action",
            "state_before",
            "state_after",
            "note",
            "due_at",
            "data",
        ],
        (
            (
                cid,
                _ts(at),
                who[0],
                who[1],
                role,
                action,
                before,
                after,
                note,
                _ts(due),
                json.dumps(data, ensure_ascii=False),
            )
            for cid, at, action, before, after, who, role, note, data, due in events
        ),
    )
    progress("写入案件", 2, 4)
    _copy(
        db,
        "case_dispatch",
        ["case_id", "department_id", "lead", "dispatched_at", "ended_at"],
        ((c["id"], dep, "t", _ts(at), _ts(end)) for c in cases for dep, at, end in c["dispatches"]),
    )
    progress("写入案件", 3, 4)
    _copy(
        db,
        "public_rating",
        ["case_id", "speed", "result", "attitude", "system", "rated_at"],
        ((c["id"], *c["rating"][:4], _ts(c["rating"][4])) for c in cases if c["rating"]),
    )
    progress("写入案件", 4, 4)
