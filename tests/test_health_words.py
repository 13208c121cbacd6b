"""Wrong and sensitive words (错敏词): the shipped dictionaries, exceptions, allow-list and reload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.checks.page import page_text, words

FIX = Path(__file__).parent / "fixtures" / "health"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
URL = "http://www.qingchuan.gov.cn/xwzx/1.html"

CLEAN = [  # ordinary government writing, full of words that contain or resemble listed wrong forms
    "会议强调，要坚持稳中求进工作总基调，完整、准确、全面贯彻新发展理念，踔厉奋发、笃行不怠，赓续红色血脉。",
    "各乡镇要按照县委统一安排，按排名先后逐项对账销号，全部暑期遗留问题年底前整改到位，即使任务再重也要久久为功。",
    "县公安局部署预防犯罪工作，经协商确定由县住房和城乡建设局牵头，准备按照《中华人民共和国城乡规划法》依法公开批复文件。",
    "县政务服务中心办证大厅延长服务时间，老年活动中心棋牌室完成改造；由此可见一般性措施难以满足群众需求。",
    "全县严厉打击网赌和电信网络诈骗，起床第一件事就是查看值班记录；介绍关于乡村振兴的经验做法，郫县豆瓣产业持续壮大。",
    "县长林德明主持会议，副县长周文静通报情况，县委书记韩立群出席并讲话，要求驰而不息纠治“四风”、蹄疾步稳推进改革。",
    "根据《中华人民共和国政府信息公开条例》，新疆维吾尔自治区、广西壮族自治区、内蒙古自治区有关部门提供虚假证明的依法处理。",
    "党的二十大和二十届三中全会精神，十四届全国人大二次会议，中国人民政治协商会议全国委员会，中华人民共和国国务院。",
    "塘沽区域的防汛工作、汛期安全和通讯保障，由滨海新区统筹安排；亳州、盱眙、茌平、睢县、沭阳县的同志参加培训。",
]

WRONG = [  # (text, word, correct, category, severity)
    ("依据中华人民共合国宪法有关规定", "中华人民共合国", "中华人民共和国", "严重错误", "严重"),
    ("坚持中国共产觉的全面领导", "中国共产觉", "中国共产党", "严重错误", "严重"),
    ("副县长林德明到乔庄镇调研", "副县长林德明", "县长林德明", "领导姓名职务", "严重"),
    ("县长周文静强调", "县长周文静", "副县长周文静", "领导姓名职务", "严重"),
    ("县长林得明主持会议", "林得明", "林德明", "领导姓名职务", "严重"),
    ("副县长赵国栋出席开工仪式", "副县长赵国栋", None, "落马官员", "严重"),
    ("依照《中华人民共和国合同法》第五十二条", "中华人民共和国合同法", None, "法律法规与机构名称", "一般"),
    ("县人力资源与社会保障局发布通知", "人力资源与社会保障局", "人力资源和社会保障局", "法律法规与机构名称", "一般"),
    ("深入学习贯彻党的20大精神", "党的20大", "党的二十大", "会议名称", "一般"),
    ("新疆维吾尔族自治区代表团", "新疆维吾尔族自治区", "新疆维吾尔自治区", "行政区划", "一般"),
    ("毫州市药材交易会", "毫州", "亳州", "行政区划", "一般"),
    ("请于本周内按装完毕", "按装", "安装", "常见错别字", "一般"),
    ("既使遇到困难也不退缩", "既使", "即使", "常见错别字", "一般"),
    ("同志们迫不急待地投入工作", "迫不急待", "迫不及待", "常见错别字", "一般"),
    ("一如继往地支持", "一如继往", "一如既往", "常见错别字", "一般"),
    ("希望再接再励", "再接再励", "再接再厉", "常见错别字", "一般"),
    ("不能竭泽而鱼", "竭泽而鱼", "竭泽而渔", "常见错别字", "一般"),
    ("消息不径而走", "不径而走", "不胫而走", "常见错别字", "一般"),
    ("新馆美仑美奂", "美仑美奂", "美轮美奂", "常见错别字", "一般"),
    ("终于原形必露", "原形必露", "原形毕露", "常见错别字", "一般"),
    ("会上谈笑风声", "谈笑风声", "谈笑风生", "常见错别字", "一般"),
    ("不能默守成规", "默守成规", "墨守成规", "常见错别字", "一般"),
    ("县城面貌换然一新", "换然一新", "焕然一新", "常见错别字", "一般"),
    ("要卓厉奋发", "卓厉奋发", "踔厉奋发", "常见错别字", "一般"),
    ("欢迎访问澳门新葡京官网", "澳门新葡京", None, "敏感词", "敏感"),
]


@pytest.fixture(scope="module")
def dicts() -> words.Dictionaries:
    return words.load()


def test_dictionary_sizes(dicts: words.Dictionaries) -> None:
    counts = dicts.counts()
    assert counts["常见错别字"] >= 300
    for category in ("严重错误", "法律法规与机构名称", "会议名称", "行政区划", "敏感词", "领导姓名职务", "落马官员"):
        assert counts[category] >= 3, category
    assert (words.DICT_DIR / "PROVENANCE.md").exists()


def test_no_wrong_form_hides_in_a_correct_form(dicts: words.Dictionaries) -> None:
    corrects = "\n".join(e.correct for e in dicts.entries if e.correct)
    assert dicts.scan(corrects) == []
    assert all(e.word != e.correct for e in dicts.entries)


@pytest.mark.parametrize("paragraph", CLEAN)
def test_clean_government_paragraphs_have_no_findings(dicts: words.Dictionaries, paragraph: str) -> None:
    assert dicts.scan(paragraph, URL) == []


def test_clean_self_inspection_report_seed(dicts: words.Dictionaries) -> None:
    seed = SEEDS / "004_a6428f4d9fbab710.txt"
    if not seed.exists():
        pytest.skip("shared seeds not present")
    assert dicts.scan(seed.read_text(encoding="utf-8"), URL) == []


@pytest.mark.parametrize(("text", "word", "correct", "category", "severity"), WRONG)
def test_wrong_words_are_found(dicts: words.Dictionaries, text: str, word: str, correct: str | None,
                               category: str, severity: str) -> None:
    found = dicts.scan(text, URL)
    assert [(f.word, f.category, f.severity) for f in found] == [(word, category, severity)]
    f = found[0]
    if correct is not None:
        assert f.correct is not None and f.correct.startswith(correct)
    assert word in f.context and f.url == URL and text[f.position:].startswith(word)


def test_context_is_fifteen_characters_each_side(dicts: words.Dictionaries) -> None:
    text = "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸" + "再接再励" + "子丑寅卯辰巳午未申酉戌亥天地人和"
    (f,) = dicts.scan(text)
    assert f.context == "六七八九十甲乙丙丁戊己庚辛壬癸再接再励子丑寅卯辰巳午未申酉戌亥天地人"


def test_spam_tail_of_the_seed_page(dicts: words.Dictionaries) -> None:
    from selectolax.lexbor import LexborHTMLParser

    text = page_text(LexborHTMLParser((FIX / "seed_spam_tail.html").read_text(encoding="utf-8")))
    found = dicts.scan(text, URL)
    assert {f.word for f in found} == {"国产精品", "国产成人", "午夜福利", "无码", "少妇"}
    assert {f.severity for f in found} == {"敏感"}


def test_allow_list_and_reload(tmp_path: Path) -> None:
    d = tmp_path / "dicts"
    shutil.copytree(words.DICT_DIR, d)
    text = "本期彩票开奖结果请关注福彩中心公告，请于月底前按装完毕。"
    first = words.load(d)
    assert [f.word for f in first.scan(text, site_id="other")] == ["彩票开奖", "按装"]
    assert [f.word for f in first.scan(text, site_id="qingchuan")] == ["按装"]  # shipped allow.yaml
    (d / "allow.yaml").write_text("allow:\n  - site: other\n    word: 按装\n", encoding="utf-8")
    with open(d / "misused.tsv", "a", encoding="utf-8") as f:
        f.write("福彩中心公告\t福利彩票发行中心公告\t\n")
    second = words.load(d)  # reloading is calling load() again
    assert [f.word for f in second.scan(text, site_id="other")] == ["彩票开奖", "福彩中心公告"]
    assert [f.word for f in first.scan(text, site_id="other")] == ["彩票开奖", "按装"]  # the old one is unchanged


def test_officials_are_configurable(tmp_path: Path) -> None:
    (tmp_path / "officials.yaml").write_text(
        "officials:\n  - name: 王海平\n    title: 镇长\n    wrong_names: [王海萍]\n    wrong_titles: [副镇长]\n",
        encoding="utf-8")
    (tmp_path / "removed.yaml").write_text("removed:\n  - name: 孙立\n    former_title: 局长\n", encoding="utf-8")
    d = words.load(tmp_path)
    assert d.scan("镇长王海平、副镇长李明出席") == []
    assert [f.word for f in d.scan("副镇长王海平和王海萍同志；孙立局长讲话")] == ["副镇长王海平", "王海萍", "孙立局长"]
