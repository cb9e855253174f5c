//! # 练习 2.3 的评分驱动程序 `ex-sticky-proto`（评分用的管道，学生不用改它）
//!
//! 练习 2.3 交的是一个模块（`labs/exercises/sticky_proto.rs`），不是程序。这个小程序把它编进来，
//! 在自己的进程里替测试调用它：测试程序 tests/exercises.rs 里没有一行学生的代码，
//! 学生的代码打印什么、退出与否，都只发生在这个进程里，改不了测试的结论。
//!
//! 协议：标准输入每行一个 JSON 请求，标准输出每行一个 JSON 回答。一个请求是在一个新的解码器上
//! 依次执行的几步操作，遇到第一个 `Err` 就停下（和 `?` 一样）：
//!
//! ```text
//! → {"id":1,"max_len":16,"ops":[["encode","4869"],["extend","00000002"],["next"],["feed","48690000000121",[1,2]],["finish"],["buffered"]]}
//! ← {"buffered":0,"id":1,"results":[{"ok":"000000024869"},{"ok":null},{"ok":null},{"ok":["4869","21"]},{"ok":null},{"ok":0}]}
//! ```
//!
//! 操作有 `encode`、`extend`、`next`（`next_message`）、`finish`、`buffered`，以及 `feed`：
//! 把字节在给出的位置切成几块，每块 `extend` 之后反复 `next_message`，直到 `Ok(None)`，
//! 回答取出的全部消息（随机切分的测试一轮只要一个请求）。
//! 字节一律写成十六进制字符串。`max_len` 可以不写（就用 `Decoder::new()`）。
//! 出错的那一步是 `{"err":"too_long","len":…,"max":…}`（或 `truncated_header`、`truncated_body`）；
//! `feed` 出错时，之前取出的消息放在 `"messages"` 里。`"buffered"` 是停下以后的 `buffered()`。
//! 学生的代码 panic 时，回答里有 `"panic":"信息"`，`results` 是 panic 之前各步的结果。
//!
//! 学生自己不运行它：`cargo run --bin workbook -- check sticky-proto` 会编译它并运行测试。

#[path = "../exercises/sticky_proto.rs"]
mod proto;

use std::io::{BufRead, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use serde_json::{Value, json};

/// 最近一次 panic 的信息和位置（由 panic 钩子记下，不打印到标准错误）。
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn main() {
    panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "（panic 的信息不是文字）".to_string());
        let location = info
            .location()
            .map(|l| format!("（{}:{}）", l.file().replace("workbook/../", ""), l.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!("{message}{location}"));
        }
    }));

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(request) => answer(&request),
            Err(err) => json!({ "bad_request": format!("看不懂的请求：{err}") }),
        };
        // 回答另起一行：学生的代码用 print! 留下半行时，回答也不会接在它后面
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let written = out
            .write_all(b"\n")
            .and_then(|()| serde_json::to_writer(&mut out, &reply).map_err(Into::into))
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if written.is_err() {
            break; // 测试那一头已经不听了
        }
    }
}

/// 执行一个请求里的全部操作。
fn answer(request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let max_len = request
        .get("max_len")
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let ops = request
        .get("ops")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut results = Vec::new();
    let ran = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = match max_len {
            Some(max) => proto::Decoder::with_max_len(max),
            None => proto::Decoder::new(),
        };
        run(&mut decoder, &ops, &mut results).map(|()| decoder.buffered())
    }));
    let mut reply = json!({ "id": id, "results": results });
    match ran {
        Ok(Ok(buffered)) => reply["buffered"] = Value::from(buffered),
        Ok(Err(bad)) => reply["bad_request"] = Value::String(bad),
        Err(_) => {
            let message = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut last| last.take())
                .unwrap_or_else(|| "（没有 panic 信息）".to_string());
            reply["panic"] = Value::String(message);
        }
    }
    reply
}

/// 在新的解码器上依次执行 `ops`，每一步的结果追加到 `results`；遇到第一个错误就停。
/// 请求本身写错了（不是学生的问题）时返回 `Err`。
fn run(
    decoder: &mut proto::Decoder,
    ops: &[Value],
    results: &mut Vec<Value>,
) -> Result<(), String> {
    for op in ops {
        let name = op.get(0).and_then(Value::as_str).unwrap_or_default();
        let bytes = || {
            op.get(1)
                .and_then(Value::as_str)
                .and_then(from_hex)
                .ok_or_else(|| format!("{name} 需要一个十六进制字符串：{op}"))
        };
        let result = match name {
            "encode" => proto::encode(&bytes()?).map(|frame| Value::String(to_hex(&frame))),
            "extend" => {
                decoder.extend(&bytes()?);
                Ok(Value::Null)
            }
            "next" => decoder
                .next_message()
                .map(|m| m.map_or(Value::Null, |m| Value::String(to_hex(&m)))),
            "feed" => {
                let bytes = bytes()?;
                let cuts = cuts(op.get(2), bytes.len())
                    .ok_or_else(|| format!("feed 需要递增的切分位置：{op}"))?;
                let mut messages = Vec::new();
                let mut start = 0;
                let fed = cuts.into_iter().try_for_each(|end| {
                    decoder.extend(&bytes[start..end]);
                    start = end;
                    while let Some(message) = decoder.next_message()? {
                        messages.push(Value::String(to_hex(&message)));
                    }
                    Ok(())
                });
                match fed {
                    Ok(()) => Ok(Value::Array(messages)),
                    Err(err) => {
                        let mut err = error(&err);
                        err["messages"] = Value::Array(messages);
                        results.push(err);
                        return Ok(()); // 和 ? 一样：第一个错误之后不再继续
                    }
                }
            }
            "finish" => decoder.finish().map(|()| Value::Null),
            "buffered" => Ok(Value::from(decoder.buffered())),
            _ => return Err(format!("没有这种操作：{op}")),
        };
        match result {
            Ok(value) => results.push(json!({ "ok": value })),
            Err(err) => {
                results.push(error(&err));
                return Ok(()); // 和 ? 一样：第一个错误之后不再继续
            }
        }
    }
    Ok(())
}

/// `feed` 的切分位置（递增、不超过 `len`），最后补上 `len`：每个数是一块的结尾。
fn cuts(value: Option<&Value>, len: usize) -> Option<Vec<usize>> {
    let mut ends = Vec::new();
    for cut in value?.as_array()? {
        let cut = usize::try_from(cut.as_u64()?).ok()?;
        if cut > len || ends.last().is_some_and(|&last| cut < last) {
            return None;
        }
        ends.push(cut);
    }
    ends.push(len);
    Some(ends)
}

fn error(err: &proto::FrameError) -> Value {
    // 学生给 FrameError 加了别的变体时，照样报告出来，由测试判定不对
    #[allow(unreachable_patterns)]
    match err {
        proto::FrameError::TooLong { len, max } => {
            json!({ "err": "too_long", "len": len, "max": max })
        }
        proto::FrameError::TruncatedHeader { got } => {
            json!({ "err": "truncated_header", "got": got })
        }
        proto::FrameError::TruncatedBody { len, got } => {
            json!({ "err": "truncated_body", "len": len, "got": got })
        }
        other => json!({ "err": "other", "debug": format!("{other:?}") }),
    }
}

// 十六进制的转换交给 hex 这个包（Cargo.toml 里让它在调试构建里也全速运行：
// 随机切分的测试要来回转换几千万个字节）。

fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}
