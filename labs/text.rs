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
}
