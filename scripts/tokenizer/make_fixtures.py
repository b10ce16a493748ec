#!/usr/bin/env python3
"""Regenerate the golden fixtures of MeterrTokenizerTests with the real PyPI tokenizers.

    python3 -m venv .venv && .venv/bin/pip install tiktoken bpe-openai mistral-common regex unicodedata2==16.0.0
    .venv/bin/python scripts/tokenizer/make_fixtures.py

tiktoken cannot download its vocabularies here, so TIKTOKEN_CACHE_DIR is pointed at a temporary directory holding
bpe-openai's copies under tiktoken's cache names (sha1 of the official blob URL); tiktoken checks their SHA-256.

Writes Tests/MeterrTokenizerTests/Fixtures/:
- golden.jsonl: one case per line: {"name", "kind": "text"|"bytes"|"special", "b64": input bytes,
  "o200k_base": ids, "cl100k_base": ids, "tekken": ids}. "text" = tiktoken encode_ordinary (mistral-common
  Tekkenizer.encode for tekken), "bytes" = tiktoken _encode_bytes (invalid UTF-8), "special" = encode with
  allowed_special="all".
- codepoints.json: for every block of 4096 code points, the token count and SHA-256 (ids as little-endian
  UInt32) of a text exercising each code point in several contexts (see codepoint_text; the Swift test builds
  the same text).
"""
import base64
import gzip
import hashlib
import json
import os
import random
import struct
import tempfile

import bpe_openai
import mistral_common
import regex  # noqa: F401  (pinned with the others; gen_unicode.py uses it)
import tiktoken
from mistral_common.tokens.tokenizers.tekken import Tekkenizer

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "Tests", "MeterrTokenizerTests", "Fixtures")
URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def load_encodings():
    cache = tempfile.mkdtemp(prefix="tiktoken-cache-")
    data_dir = os.path.join(os.path.dirname(bpe_openai.__file__), "data")
    for name, url in URLS.items():
        raw = gzip.open(os.path.join(data_dir, f"{name}.tiktoken.gz")).read()
        with open(os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()), "wb") as fh:
            fh.write(raw)
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    encs = {name: tiktoken.get_encoding(name) for name in URLS}
    tek = Tekkenizer.from_file(os.path.join(os.path.dirname(mistral_common.__file__), "data", "tekken_240911.json"))
    return encs, tek


SAMPLES = {
    "english": "The quick brown fox jumps over the lazy dog. It's 3:45pm; don't panic — we'll be there by 4.",
    "french": "Le cœur a ses raisons que la raison ne connaît point. L'été dernier, j'ai visité Montréal.",
    "german": "Größenwahn und Schadenfreude: Straßenbahnhaltestelle Ärger über Übermäßige Öffnungszeiten.",
    "spanish": "¿Dónde está la biblioteca? ¡Qué día tan bonito! El niño comió piña y jalapeños.",
    "russian": "Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России.",
    "greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "arabic": "الحمد لله رب العالمين. مرحبا بالعالم! هذا نص عربي مع أرقام ١٢٣٤٥ و 67890.",
    "hebrew": "שלום עולם! זהו טקסט בעברית עם ניקוד: בְּרֵאשִׁית בָּרָא אֱלֹהִים.",
    "hindi": "नमस्ते दुनिया! यह हिंदी में एक वाक्य है। संख्याएँ: १२३४।",
    "bengali": "আমার সোনার বাংলা, আমি তোমায় ভালোবাসি।",
    "tamil": "யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம்.",
    "thai": "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ สวัสดีครับ ยินดีต้อนรับ",
    "chinese": "我能吞下玻璃而不伤身体。中华人民共和国成立于1949年。你好，世界！",
    "japanese": "お誕生日おめでとう。私はガラスを食べられます。それは私を傷つけません。カタカナとひらがな、漢字。",
    "korean": "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요. 안녕하세요 세계!",
    "vietnamese": "Tôi có thể ăn thủy tinh mà không hại gì. Tiếng Việt có nhiều dấu thanh.",
    "turkish": "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul'da ıslak ığdır.",
    "georgian": "მინას ვჭამ და არა მტკივა. ქართული ენა.",
    "armenian": "Կրնամ ապակի ուտել և ինծի անհանգիստ չըներ։",
    "amharic": "ሰማይ አይታረስ ንጉሥ አይከሰስ።",
    "polish": "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "ukrainian": "Чуєш їх, доцю, га? Кумедна ж ти, прощайся без ґольфів!",
    "emoji": "I ❤️ 🍕! 👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 🇫🇷🇯🇵 flags, 1️⃣ keycap, 🧑🏻‍💻 dev.",
    "math": "∀x ∈ ℝ: x² ≥ 0; ∑ᵢ aᵢ = ½ · π ≈ 3.14159; 𝔸𝕓𝒸 𝐁𝐨𝐥𝐝; ⅓ + ⅔ = 1; Ⅻ ① ②",
    "swift": 'import Foundation\n\nstruct Point: Sendable {\n    var x: Double\n    var y: Double\n\n    func distance(to other: Point) -> Double {\n        let dx = x - other.x, dy = y - other.y\n        return (dx * dx + dy * dy).squareRoot()\n    }\n}\n\nlet p = Point(x: 3, y: 4)\nprint("\\(p.distance(to: .init(x: 0, y: 0)))")\n',
    "python": 'def fib(n: int) -> int:\n\t"""Return the n-th Fibonacci number."""\n\tif n < 2:\n\t\treturn n\n\treturn fib(n - 1) + fib(n - 2)\n\n\nif __name__ == "__main__":\n    print([fib(i) for i in range(20)])  # 0, 1, 1, 2, ...\r\n',
    "rust": "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n    // HTTPServer, parseJSON, getHTTPResponseCode, XMLHttpRequest\n}\n",
    "javascript": "const f = async (url) => { const r = await fetch(url); if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); };\n/* comment */ // path/to/file.js\n",
    "json": '{"model":"gpt-4o-mini-2024-07-18","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Hi! \\u00e9\\n"}],"temperature":0.7,"max_tokens":1024,"stream":true,"tools":[]}',
    "html": '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Test &amp; more</title></head>\n<body><p class="x">Hello,&nbsp;world!</p></body></html>\n',
    "markdown": "# Title\n\n- item one\n- item two\n\n```bash\n$ ls -la /usr/local/bin\n```\n\n> quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    "urls": "https://example.com/path/to/page?query=1&x=2#frag http://localhost:8080/v1/chat/completions mailto:a@b.co",
    "numbers": "0 1 12 123 1234 12345 123456 1234567 3.14159 -42 1e10 0x1F 1,000,000 ¹²³ ٣٤٥ ௧௨௩",
    "whitespace": "a  b   c\t\td\n\ne\r\n\r\nf \n g\u00a0h\u3000i\u2003\u2003j  \n  k\v\fl \u0085m\u2028n\u2029o",
    "contractions": "I'm you're he's we've they'll I'd can't WON'T SHE'S I'M 'RE 'Ve 'll 'ſ 'S don't DON'T 'shello 'x",
    "camel": "HTMLParser helloWorld helloWORLD XMLHttpRequest iPhone eBay McDonald ABCdef aBC 亚洲AV ΑΒΓδεζ ǅungla",
    "marks": "cafe\u0301 e\u0301e\u0301 \u0301abc a\u0301\u0302\u0303 n\u0303o x\u20dd Z\u0351\u0358\u0364a\u0333lgo \u0915\u094d\u0937",
    "specials_text": "<|endoftext|> hello <|endofprompt|> <|fim_prefix|>x<|fim_middle|>y<|fim_suffix|> [INST] hi [/INST] <s></s>",
}


def hard_cases():
    cases = {}
    ws = [" ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "  ", "\n\n", " \n", "\n ", "\t\n"]
    tails = ["a", "A", "1", "!", "", "é", "中", "\u0301"]
    i = 0
    for a in ws:
        for b in ws:
            for t in tails:
                cases[f"ws{i}"] = "x" + a + b + t
                i += 1
    for n in range(1, 9):
        cases[f"digits{n}"] = "7" * n + " " + "x" + "9" * n
    cases["empty"] = ""
    cases["single_space"] = " "
    cases["only_newlines"] = "\n\n\n"
    cases["crlf_runs"] = "a\r\n\r\n\r\nb\r\r\n\n\rc \r\n d"
    cases["trailing_spaces"] = "hello   "
    cases["trailing_ws_newline"] = "hello \n  "
    cases["leading_mark"] = "\u0301"
    cases["mark_after_space"] = " \u0301\u0301x"
    cases["zwj"] = "\u200d\u200b\ufeff\u180e a\u200db"
    cases["apostrophes"] = "''s ''' 'S's 'll'll" + "'" * 10
    cases["slashes"] = "a//b ///c !\n/d ?\r\n//e"
    cases["long_a"] = "a" * 20000
    cases["long_underscore"] = "_" * 5000
    cases["long_space"] = " " * 3000 + "x"
    cases["long_digits"] = "1234567890" * 500
    cases["long_cjk"] = "漢字" * 2000
    cases["long_emoji"] = "🙂" * 1000
    rnd = random.Random(7)
    cases["base64_blob"] = base64.b64encode(bytes(rnd.randrange(256) for _ in range(6000))).decode()
    cases["hex_blob"] = bytes(rnd.randrange(256) for _ in range(3000)).hex()
    cases["dna"] = "".join(rnd.choice("ACGT") for _ in range(8000))
    return cases


def random_unicode_cases(rnd, count):
    # Weighted pools so every class and boundary shows up often.
    pools = [
        [chr(c) for c in range(0x20, 0x7F)],
        [" ", " ", "\n", "\t", "\r\n", "\u00a0", "\u3000", "\u2009"],
        [chr(c) for c in range(0xC0, 0x250)],
        [chr(c) for c in range(0x300, 0x370)],  # combining marks
        [chr(c) for c in range(0x370, 0x530)],
        [chr(c) for c in range(0x900, 0x980)],
        [chr(c) for c in range(0x3040, 0x3100)],
        [chr(c) for c in range(0x4E00, 0x4F00)],
        [chr(c) for c in range(0xAC00, 0xAD00)],
        [chr(c) for c in range(0x1F300, 0x1F650)],
        [chr(c) for c in range(0x1D400, 0x1D500)],
        ["'", "'s", "'T", "'re", "'VE", "'ll", "'d", "'M", "ſ", "'ſ"],
        [chr(c) for c in range(0x2150, 0x2190)],  # number forms
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "²", "½", "٣", "१"],
    ]
    out = {}
    for k in range(count):
        length = rnd.choice([1, 2, 3, 5, 8, 13, 40, 120, 400])
        s = []
        for _ in range(length):
            if rnd.random() < 0.05:
                cp = rnd.randrange(0x110000)
                if 0xD800 <= cp <= 0xDFFF:
                    cp = 0xFFFD
                s.append(chr(cp))
            else:
                s.append(rnd.choice(rnd.choice(pools)))
        out[f"random{k}"] = "".join(s)
    return out


def random_word_cases(rnd, count):
    words = ["the", "The", "THE", "of", "and", "token", "Tokenizer", "HTTP", "json", "x", "I", "naïve", "résumé",
             "über", "東京", "Москва", "λόγος", "don't", "it's", "WE'LL", "42", "3.14", "1000000", "—", "...", "!!",
             "(", ")", "{", "}", "[", "]", "//", "/*", "*/", "#", "@", "$", "%", "^", "&&", "||", "->", "=>", "<|"]
    seps = [" ", " ", " ", "", "\n", "  ", "\t", "\r\n", " \n", "\n\n", "\u00a0", ", ", ". ", "/"]
    out = {}
    for k in range(count):
        n = rnd.randrange(1, 60)
        out[f"words{k}"] = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(n))
    return out


def invalid_byte_cases(rnd):
    cases = {
        "lone_ff": b"\xff",
        "mid_ff": b"hello \xff world",
        "truncated_euro": b"price: 5\xe2\x82",
        "overlong": b"a\xc0\xafb",
        "surrogate": b"x\xed\xa0\x80y",
        "trailing_space_invalid": b"hello   \x80",
        "newline_invalid": b"line\n\n\xfe tail",
        "leading_continuation": b"\x80\x80abc def",
        "above_max": b"ok \xf4\x90\x80\x80",
        "cjk_cut": "漢字テスト".encode()[:-1],
    }
    for k in range(20):
        base = "".join(rnd.choice(["a", " ", "é", "中", "\n", "1", "!", "🙂"]) for _ in range(rnd.randrange(0, 30)))
        b = bytearray(base.encode())
        pos = rnd.randrange(len(b) + 1)
        b[pos:pos] = bytes([rnd.choice([0x80, 0xBF, 0xC3, 0xE4, 0xF0, 0xFF])])
        cases[f"invalid_random{k}"] = bytes(b)
    return cases


def codepoint_text(start, end):
    """The text for code points [start, end), skipping surrogates; the Swift test builds the same string."""
    parts = []
    for cp in range(start, end):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        parts.append(c + "a" + c + "A1" + c + " " + c + "'s\n")
    return "".join(parts)


def ids_hash(ids):
    return hashlib.sha256(b"".join(struct.pack("<I", i) for i in ids)).hexdigest()


def main():
    encs, tek = load_encodings()
    os.makedirs(OUT, exist_ok=True)
    rnd = random.Random(20261129)
    text_cases = {}
    text_cases.update(SAMPLES)
    text_cases["all_samples"] = "\n\n".join(SAMPLES.values())
    text_cases.update(hard_cases())
    text_cases.update(random_unicode_cases(rnd, 600))
    text_cases.update(random_word_cases(rnd, 300))
    # Over 64 KB with many repeated pieces: exercises the tokenizer's per-call piece cache and parallel chunking.
    big_rnd = random.Random(99)
    parts = list(random_word_cases(big_rnd, 400).values()) + list(random_unicode_cases(big_rnd, 100).values())
    big_rnd.shuffle(parts)
    text_cases["large_mixed"] = "\n".join(parts * 3)

    def tekken_ids(s):
        return tek.encode(s, bos=False, eos=False)

    with open(os.path.join(OUT, "golden.jsonl"), "w") as fh:
        for name, text in text_cases.items():
            row = {"name": name, "kind": "text", "b64": base64.b64encode(text.encode()).decode()}
            for en, enc in encs.items():
                row[en] = enc.encode_ordinary(text)
            row["tekken"] = tekken_ids(text)
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        for name, data in invalid_byte_cases(rnd).items():
            row = {"name": name, "kind": "bytes", "b64": base64.b64encode(data).decode()}
            for en, enc in encs.items():
                row[en] = enc._encode_bytes(data)
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        for name in ["specials_text", "contractions"]:
            text = SAMPLES[name]
            row = {"name": name + "_special", "kind": "special", "b64": base64.b64encode(text.encode()).decode()}
            for en, enc in encs.items():
                row[en] = enc.encode(text, allowed_special="all")
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")

    # Mistral chat (InstructTokenizerV3 with Tekken): token counts of whole conversations.
    from mistral_common.protocol.instruct.messages import AssistantMessage, SystemMessage, UserMessage
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    mistral = MistralTokenizer.from_file(
        os.path.join(os.path.dirname(mistral_common.__file__), "data", "tekken_240911.json"))
    kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage}
    conversations = [
        [("user", "Hello world")],
        [("system", "Be brief."), ("user", "Hello world")],
        [("user", "Hi"), ("assistant", "Hello! How can I help?"), ("user", "Tell me a joke")],
        [("system", "S1"), ("system", "S2"), ("user", "U1"), ("assistant", "A1"), ("user", "U2")],
        [("user", "U1"), ("system", "S1"), ("user", "U2")],
        [("system", SAMPLES["french"]), ("user", SAMPLES["japanese"]), ("assistant", SAMPLES["emoji"]),
         ("user", SAMPLES["python"])],
    ]
    chats = []
    for conv in conversations:
        req = ChatCompletionRequest(messages=[kinds[r](content=c) for r, c in conv])
        tokens = mistral.encode_chat_completion(req).tokens
        chats.append({"messages": [{"role": r, "content": c} for r, c in conv], "ids": tokens})
    with open(os.path.join(OUT, "mistral_chat.json"), "w") as fh:
        json.dump(chats, fh, ensure_ascii=False, separators=(",", ":"))

    blocks = []
    for start in range(0, 0x110000, 4096):
        text = codepoint_text(start, start + 4096)
        entry = {"start": start}
        for en, enc in encs.items():
            ids = enc.encode_ordinary(text)
            entry[en] = [len(ids), ids_hash(ids)]
        ids = tekken_ids(text)
        entry["tekken"] = [len(ids), ids_hash(ids)]
        blocks.append(entry)
    meta = {
        "tiktoken": tiktoken.__version__ if hasattr(tiktoken, "__version__") else "?",
        "mistral_common": mistral_common.__version__,
        "block": 4096,
        "blocks": blocks,
    }
    with open(os.path.join(OUT, "codepoints.json"), "w") as fh:
        json.dump(meta, fh, separators=(",", ":"))
    print(f"{len(text_cases)} text cases, {len(blocks)} code point blocks")


if __name__ == "__main__":
    main()
