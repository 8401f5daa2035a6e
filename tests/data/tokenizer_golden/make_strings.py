#!/usr/bin/python3
# The strings of the tokenizer golden fixtures: hand-picked edge cases, real item texts from ../shared/data
# (MovieLens-100k titles, Amazon Magazine titles and descriptions) and seeded random mixes of Unicode classes.
# Prints one JSON string per line. Used once, when the fixtures were written (generate.sh).
import gzip, json, random, sys

shared = sys.argv[1]
strings = [
    "", " ", "  ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "a", "A", "hello", "Hello world", " Hello world ",
    "Hello  world", "Hello   world", "Hello\tworld", "Hello\nworld", "Hello\r\nworld", "ends with spaces   ",
    "   starts with spaces", "tabs\t\t\tand\t spaces \t", "line\n\n\nbreaks\n", "mixed \n \n  \r\n\t x",
    "I'm", "I'M", "you're", "YOU'RE", "they've", "we'll", "WE'LL", "she'd", "it's", "IT'S", "don't", "DON'T",
    "rock 'n' roll", "'s", "'tis", "o'clock", "Ma'am", "l'été", "‘curly’ “quotes”",
    "0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "-273.15", "2024-12-01",
    "v1.2.3", "0x1F", "1e-9", "100%", "$19.99", "€5", "٣٤٥ (Arabic-Indic)", "１２３ fullwidth", "Ⅻ roman", "½ ¾ ²",
    "café", "cafe\u0301", "naïve", "nai\u0308ve", "Ångström", "A\u030angstro\u0308m", "ﬁ ligature", "Ǆ", "ß ẞ",
    "日本語のテキスト", "中文商品标题：无线蓝牙耳机", "한국어 제목", "Русский журнал", "Ελληνικά", "עברית",
    "العربية", "हिन्दी पत्रिका", "ภาษาไทย", "Tiếng Việt có dấu", "Türkçe İstanbul", "ﷺ",
    "🤗", "👍🏽", "👨‍👩‍👧‍👦 family", "🇯🇵🇺🇸", "❤️", "emoji🙂between🙃words", "😀😀😀", "★★★★☆ (4/5)",
    "\u00a0non-breaking\u00a0space", "ideographic\u3000space", "thin\u2009space", "zero\u200bwidth", "\u2028sep",
    "\x0bvertical tab", "\x0cform feed", "\x85next line", "control\x01char", "\u00ad soft hyphen",
    "!!!", "...", "?!?!", "---", "___", "***bold***", "#hashtag", "@mention", "a+b=c", "x<y>z", "[1](2){3}",
    "https://example.com/path?q=1&r=2", "user@example.com", "C:\\Windows\\System32", "/usr/bin/env",
    "def f(x):\n    return x ** 2\n", "int main() { return 0; }", "    indented\n        more", "a\n\tb\n\t\tc",
    "<|begin_of_text|>", "<|end_of_text|>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>",
    "text <|endoftext|> more", "<think>reason</think>", "<|eot_id|>", "< |endoftext| >",
    "Title: Toy Story. Genre: Animation Children's Comedy", "Compress the following sentence into embedding: ",
    "The Lord of the Rings: The Fellowship of the Ring (Extended Edition)",
    "Harry Potter and the Sorcerer's Stone, Book 1", "iPhone 15 Pro Max 256GB - Natural Titanium",
    "Men's Running Shoes, Size 10.5 US", "USB-C to USB-C cable (2m/6.6ft), 100W PD",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ababababababababababab", "          ",
    "x" * 300, "🙂" * 20, "1" * 50, " " * 33 + "end",
]
titles = []
with open(f"{shared}/ml-100k/ml-100k.item", encoding="utf-8", errors="replace") as f:
    next(f)
    for i, line in enumerate(f):
        if i % 17 == 0:
            titles.append(line.rstrip("\n").split("\t")[1])
strings += titles[:60]
magazine = []
with gzip.open(f"{shared}/amazon-magazine-2018/meta_Magazine_Subscriptions.json.gz", "rt", encoding="utf-8") as f:
    for i, line in enumerate(f):
        row = json.loads(line)
        if i % 29 == 0 and row.get("title"):
            magazine.append(row["title"])
        if i % 41 == 0 and row.get("description"):
            magazine.append(" ".join(row["description"])[:600])
strings += magazine[:100]

rng = random.Random(12345)
pools = ["abcXYZ", "0123456789", " \t\n\r", "'’\".,;:!?-()[]", "éüñçøÅ", "日本語中文한국", "😀🤗👍🏽❤️",
         "\u0301\u0308", "\u00a0\u3000\u2009", "ΑβγДжЩ", "٣٤١२३"]
for _ in range(120):
    n = rng.randint(1, 40)
    strings.append("".join(rng.choice(rng.choice(pools)) for _ in range(n)))

seen = set()
for s in strings:
    if s not in seen:
        seen.add(s)
        print(json.dumps(s, ensure_ascii=False))
