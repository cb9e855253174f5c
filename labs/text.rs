//! 把网络上收到的字节变成可以安全打印到终端的文字。

/// 把一段字节转成一行可打印的文字。
///
/// - 不是合法 UTF-8 的字节显示为 `�`。这只影响显示：原始字节没有被改动，
///   回声服务照样原样发回。
/// - 控制字符（换行、回车、ESC 等，制表符除外）显示成转义形式，例如 `\n`、`\u{1b}`。
///   这样既能看清对方到底发了什么（`nc` 会把回车键的 `\n` 一起发来），
///   也不会让对方用 ESC 序列操纵我们的终端。
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// 把收到的一行（可能带着行尾的 `\r\n` 或 `\n`）变成可以安全转发给别人的文字。
///
/// 先去掉行尾的换行，再和 [`printable`] 一样处理非法 UTF-8 和控制字符；
/// 此外还把 Unicode 的双向文字控制符（例如 U+202E，会让后面的文字从右往左显示）
/// 显示成转义形式，免得有人把一行字伪装成另一个样子。
pub fn printable_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut shown = String::with_capacity(line.len());
    for c in printable(line).chars() {
        if is_bidi_control(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Unicode 双向文字控制符：U+061C、U+200E、U+200F、U+202A–U+202E、U+2066–U+2069。
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

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
}
