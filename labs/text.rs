//! 把网络上收到的字节变成可以安全打印到终端的文字。

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_security::{GeneralSecurityProfile, skeleton};

/// 把一段字节转成一行可打印的文字。所有实验显示、转发别人发来的文字时都用这一条规则。
///
/// - 不是合法 UTF-8 的字节显示为 `�`。这只影响显示：原始字节没有被改动，
///   回声服务照样原样发回。
/// - 控制字符（换行、回车、ESC 等，制表符除外）显示成转义形式，例如 `\n`、`\u{1b}`。
///   这样既能看清对方到底发了什么（`nc` 会把回车键的 `\n` 一起发来），
///   也不会让对方用 ESC 序列操纵我们的终端。
/// - 看不见的“格式字符”（Unicode 类别 Cf：双向文字控制符、零宽空格、词连接符、BOM、标签字符等）
///   和行、段分隔符（U+2028、U+2029）也显示成转义形式：它们能让一行字看起来和实际内容不一样
///   （例如 U+202E 让后面的文字从右往左显示），或者把一行在别人的屏幕上断成两行。
///   唯一的例外是夹在两个看得见的字符之间的零宽连接符（ZWJ，U+200D）和零宽非连接符（ZWNJ，U+200C）：
///   👨‍👩‍👧 这样的组合表情、阿拉伯文和印度的几种文字要靠它们才能正确显示。
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let chars: Vec<char> = text.chars().collect();
    let mut shown = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1).copied();
        if must_escape(c, before, after) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// 把收到的一行（可能带着行尾的 `\r\n` 或 `\n`）变成可以安全转发给别人的文字：
/// 先去掉行尾的换行，其余的和 [`printable`] 一样处理。
pub fn printable_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    printable(line)
}

/// 这个字符要不要显示成转义形式？`before`、`after` 是它前后的字符（如果有）。
fn must_escape(c: char, before: Option<char>, after: Option<char>) -> bool {
    if c == '\t' {
        return false;
    }
    if c == '\u{200c}' || c == '\u{200d}' {
        // ZWJ、ZWNJ 只在两个看得见的字符之间才有意义
        return !(before.is_some_and(is_visible) && after.is_some_and(is_visible));
    }
    c.is_control() || is_invisible_format(c)
}

/// Unicode 的格式字符（类别 Cf）和行、段分隔符：本身看不见，却能改变别的字符怎么显示。
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// 看得见的字符：不是空白、控制字符或格式字符。
fn is_visible(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !is_invisible_format(c)
}

// ANCHOR: nick_rules
/// 这个字符能不能出现在昵称里：汉字、字母、数字、`_` 和 `-`，而且是 Unicode 安全规范（UTS #39）
/// 推荐在标识符里使用的字符。
///
/// 后一条挡住了两类“字母”：看不见的（例如韩文填充符 U+3164，它算作字母，却什么也不显示）
/// 和全角字母（`ａｌｉｃｅ`）这类与常用字符重复的写法。格式字符（Cf，包括 ZWJ）不是字母，本来就不行。
pub fn nick_char_allowed(c: char) -> bool {
    (c.is_alphanumeric() || c == '_' || c == '-') && c.identifier_allowed()
}

/// 昵称“看起来像什么”：Unicode UTS #39 的 skeleton（形似字归一）。两个昵称的结果相同，
/// 就说明它们在屏幕上几乎分不出来，例如拉丁字母的 `alice`、开头是西里尔字母 а 的 `аlice`、
/// 开头是希腊字母 Α 的 `Αlice`。先转成小写，因为聊天室里昵称本来就不分大小写。
pub fn lookalike_key(nick: &str) -> String {
    skeleton(&nick.to_lowercase()).collect()
}
// ANCHOR_END: nick_rules

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn keeps_plain_text_and_chinese() {
        assert_eq!(
            printable("hello 你好\tworld".as_bytes()),
            "hello 你好\tworld"
        );
    }

    #[test]
    fn escapes_newlines_and_terminal_controls() {
        assert_eq!(printable(b"hi\r\n"), "hi\\r\\n");
        assert_eq!(printable(b"\x1b]0;title\x07"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(printable("\u{9b}2J".as_bytes()), "\\u{9b}2J");
    }

    #[test]
    fn replaces_invalid_utf8() {
        assert_eq!(printable(&[b'a', 0xff, b'b']), "a\u{fffd}b");
        // 一个汉字被切成两半（例如恰好落在两次 read 的边界上）
        assert_eq!(printable(&"你".as_bytes()[..2]), "\u{fffd}");
    }

    #[test]
    fn printable_line_drops_the_line_end_and_escapes_the_rest() {
        use super::printable_line;
        assert_eq!(printable_line(b"hello\r\n"), "hello");
        assert_eq!(printable_line(b"hello\n"), "hello");
        assert_eq!(printable_line(b"a\rb\n"), "a\\rb");
        assert_eq!(printable_line(b"\x1b[2J\x07"), "\\u{1b}[2J\\u{7}");
        assert_eq!(printable_line(&[0xe4, 0xbd, b'\n']), "\u{fffd}");
        // C1 控制字符 CSI（U+009B）和从右往左覆盖符（U+202E）
        assert_eq!(printable_line("\u{9b}31m".as_bytes()), "\\u{9b}31m");
        assert_eq!(
            printable_line("abc\u{202e}fed".as_bytes()),
            "abc\\u{202e}fed"
        );
        assert_eq!(printable_line("tab\tok 你好".as_bytes()), "tab\tok 你好");
    }

    /// 一条规则管所有看不见的格式字符：双向控制符、零宽字符、BOM、标签字符、软连字符，以及行、段分隔符。
    #[test]
    fn escapes_invisible_format_characters() {
        let cases = [
            ("a\u{202e}b", "a\\u{202e}b"),                    // 从右往左覆盖
            ("a\u{2066}b\u{2069}", "a\\u{2066}b\\u{2069}"),   // 从左往右隔离、隔离结束
            ("a\u{200b}b", "a\\u{200b}b"),                    // 零宽空格
            ("a\u{2060}b", "a\\u{2060}b"),                    // 词连接符
            ("\u{feff}a", "\\u{feff}a"),                      // BOM
            ("a\u{ad}b", "a\\u{ad}b"),                        // 软连字符
            ("a\u{e0041}\u{e007f}", "a\\u{e0041}\\u{e007f}"), // 标签字符
            ("a\u{2028}b\u{2029}c", "a\\u{2028}b\\u{2029}c"), // 行分隔符、段分隔符
        ];
        for (input, expected) in cases {
            assert_eq!(printable(input.as_bytes()), expected, "{input:?}");
            assert_eq!(
                super::printable_line(input.as_bytes()),
                expected,
                "{input:?}"
            );
        }
    }

    /// ZWJ、ZWNJ 夹在两个看得见的字符之间时原样保留（组合表情、一些文字要用），否则转义。
    #[test]
    fn keeps_joiners_only_between_visible_characters() {
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(printable(family.as_bytes()), family);
        let persian = "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}";
        assert_eq!(printable(persian.as_bytes()), persian);
        assert_eq!(printable("\u{200d}a".as_bytes()), "\\u{200d}a");
        assert_eq!(printable("a\u{200d}".as_bytes()), "a\\u{200d}");
        assert_eq!(printable("a \u{200c}b".as_bytes()), "a \\u{200c}b");
        assert_eq!(
            printable("a\u{200d}\u{200d}b".as_bytes()),
            "a\\u{200d}\\u{200d}b"
        );
        assert_eq!(
            printable("a\u{200d}\u{202e}".as_bytes()),
            "a\\u{200d}\\u{202e}"
        );
    }

    #[test]
    fn lookalike_nicknames_share_a_key() {
        use super::lookalike_key;
        let alice = lookalike_key("alice");
        for lookalike in ["аlice", "Αlice", "ALICE", "ａｌｉｃｅ", "a1ice"] {
            assert_eq!(lookalike_key(lookalike), alice, "{lookalike}");
        }
        assert_ne!(lookalike_key("bob"), alice);
        assert_ne!(lookalike_key("小明"), lookalike_key("小红"));
    }

    #[test]
    fn nick_characters_are_visible_and_ordinary() {
        use super::nick_char_allowed;
        for c in ['a', 'Z', '7', '_', '-', '中', 'é', 'я', 'α'] {
            assert!(nick_char_allowed(c), "{c:?} 应当可以用");
        }
        // 韩文填充符及其同类、盲文空白、全角字母、各种格式字符和空白
        for c in [
            '\u{3164}',
            '\u{115f}',
            '\u{1160}',
            '\u{ffa0}',
            '\u{2800}',
            'ａ',
            '\u{200b}',
            '\u{200d}',
            '\u{202e}',
            '\u{ad}',
            '\u{e0041}',
            ' ',
            '\u{3000}',
            '<',
            '>',
        ] {
            assert!(!nick_char_allowed(c), "{c:?} 不应当可以用");
        }
    }
}
