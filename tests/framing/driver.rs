//! [`Framing`] 的另一种实现：和驱动程序 `ex-sticky-proto`（labs/workbook/proto_driver.rs）对话。
//!
//! 驱动程序把学生的 `proto` 模块编进去，在自己的进程里执行请求；这里只发请求、读回答，
//! 本测试程序里没有学生的代码。学生的代码打印的东西只进驱动程序的管道：
//! 不是回答的行被收起来，失败时缩进着显示（每行以 `│` 开头，不会被当成测试结果）。
//! 每次等待都有时限，整个测试另有总时限：卡住的代码让测试在几秒内失败。

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::framing::{FrameErr, Framing, Op, Ran, Res, quote};
use crate::support::WAIT;

/// 一个测试和驱动程序对话的总时限（每次等待另有 WAIT 的时限）。
const LIMIT: Duration = Duration::from_secs(60);
/// 失败信息里最多显示几行学生的代码打印的东西。
const SHOWN_LINES: usize = 12;
/// 标准错误最多保留多少字节（只留最后的部分）。
const STDERR_KEPT: usize = 4000;

/// 驱动程序标准输出里的一行，或者它关闭了标准输出。
enum Line {
    Text(String),
    Closed,
}

pub struct Driver {
    child: Child,
    requests: Option<SyncSender<String>>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// 标准输出里不是回答的行
    stray: Vec<String>,
    next_id: u64,
    deadline: Instant,
}

impl Driver {
    pub fn start(path: &Path) -> Driver {
        let mut child = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("无法启动 {}：{err}", path.display()));

        // 写请求、读标准输出、读标准错误各用一个线程：驱动程序卡住时，测试只是等不到回答，不会跟着卡住
        let stdin = child.stdin.take().expect("stdin 是管道");
        let (requests, to_write) = mpsc::sync_channel::<String>(1);
        thread::spawn(move || write_requests(stdin, to_write));

        let stdout = child.stdout.take().expect("stdout 是管道");
        let (sender, lines) = mpsc::sync_channel(256);
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if sender.send(Line::Text(line)).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = sender.send(Line::Closed);
        });

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("stderr 是管道");
        let kept = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let Ok(mut kept) = kept.lock() else { break };
                kept.extend_from_slice(&chunk[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEPT);
                kept.drain(..excess);
            }
        });

        Driver {
            child,
            requests: Some(requests),
            lines,
            stderr,
            stray: Vec::new(),
            next_id: 1,
            deadline: Instant::now() + LIMIT,
        }
    }

    /// 说明之后附上学生的代码打印的东西（缩进、加上 │，免得被误认成测试结果）。
    fn explain(&self, what: &str) -> String {
        let mut text = format!("  {what}");
        if !self.stray.is_empty() {
            text.push_str("\n  你的代码往标准输出打印了：");
            text.push_str(&quote(&self.stray.join("\n")));
        }
        let stderr = self.stderr.lock().map(|e| e.clone()).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr);
        if !stderr.trim().is_empty() {
            text.push_str("\n  标准错误里有：");
            text.push_str(&quote(stderr.trim_end()));
        }
        text
    }

    fn keep_stray(&mut self, line: String) {
        if self.stray.len() < SHOWN_LINES {
            self.stray.push(line);
        } else if self.stray.len() == SHOWN_LINES {
            self.stray.push("……".to_string());
        }
    }

    /// 驱动程序已经关闭了标准输出：等它退出，说明退出码。
    fn ended(&mut self) -> String {
        // 标准库的 wait 没有时限：每 20 毫秒看一次它退出了没有，最多看 2 秒
        let give_up = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < give_up => thread::sleep(Duration::from_millis(20)),
                _ => break None,
            }
        };
        let how = match status.map(|status| status.code()) {
            Some(Some(code)) => format!("（退出码 {code}）"),
            Some(None) => "（被信号终止）".to_string(),
            None => String::new(),
        };
        self.explain(&format!(
            "还没回答，驱动程序就结束了{how}：你的代码是不是调用了 std::process::exit，\
             或者让程序崩溃了？练习 2.3 的函数只应当返回结果。"
        ))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.requests.take(); // 关掉标准输入：驱动程序读到结尾就会退出
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_requests(mut stdin: ChildStdin, requests: Receiver<String>) {
    for request in requests {
        let written = stdin
            .write_all(request.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush());
        if written.is_err() {
            return;
        }
    }
}

impl Framing for Driver {
    fn run(&mut self, max_len: Option<usize>, ops: &[Op]) -> Result<Ran, String> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({
            "id": id,
            "max_len": max_len,
            "ops": ops.iter().map(op_json).collect::<Vec<_>>(),
        });
        let sent = self.requests.as_ref().is_some_and(|requests| {
            requests
                .send(serde_json::to_string(&request).unwrap_or_default())
                .is_ok()
        });
        if !sent {
            return Err(self.ended());
        }
        let mut printed = Vec::new();
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(self.explain(&format!(
                    "这个测试超过了 {LIMIT:?} 的总时限：你的代码是不是太慢了，或者在某处死循环？"
                )));
            }
            match self.lines.recv_timeout(WAIT.min(self.deadline - now)) {
                Ok(Line::Text(line)) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match reply_to(&line, id) {
                        Some(reply) => return self.interpret(&reply, ops, printed),
                        None => {
                            if printed.len() < SHOWN_LINES {
                                printed.push(line.clone());
                            }
                            self.keep_stray(line);
                        }
                    }
                }
                Ok(Line::Closed) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.ended());
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.explain(&format!(
                        "等了 {:?} 没有等到结果：你的代码是不是在某处死循环，或者在等永远不会来的数据？",
                        WAIT.min(self.deadline - now)
                    )));
                }
            }
        }
    }
}

impl Driver {
    /// 把回答读成每一步的结果。
    fn interpret(&self, reply: &Value, ops: &[Op], printed: Vec<String>) -> Result<Ran, String> {
        let garbled = |why: &str| self.explain(&format!("驱动程序的回答看不懂（{why}）：{reply}"));
        if let Some(bad) = reply.get("bad_request").and_then(Value::as_str) {
            return Err(garbled(bad));
        }
        let Some(items) = reply.get("results").and_then(Value::as_array) else {
            return Err(garbled("没有 results"));
        };
        let mut results = Vec::new();
        for (op, item) in ops.iter().zip(items) {
            if item.get("err").is_some() {
                if let Op::Feed { .. } = op {
                    let messages = item.get("messages").and_then(messages).unwrap_or_default();
                    results.push(Res::Messages(messages));
                }
                results.push(Res::Err(frame_err(item).ok_or_else(|| garbled("err"))?));
                break;
            }
            let ok = item.get("ok").ok_or_else(|| garbled("没有 ok"))?;
            let result = match op {
                Op::Encode(_) => ok.as_str().and_then(from_hex).map(Res::Frame),
                Op::Extend(_) | Op::Finish => ok.is_null().then_some(Res::Done),
                Op::Next => match ok {
                    Value::Null => Some(Res::Message(None)),
                    other => other
                        .as_str()
                        .and_then(from_hex)
                        .map(|m| Res::Message(Some(m))),
                },
                Op::Feed { .. } => messages(ok).map(Res::Messages),
                Op::Buffered => ok.as_u64().map(|n| Res::Buffered(n as usize)),
            };
            results.push(result.ok_or_else(|| garbled("结果的类型不对"))?);
        }
        if let Some(message) = reply.get("panic").and_then(Value::as_str) {
            let step = ops
                .get(results.len())
                .map(crate::framing::show_op)
                .unwrap_or_default();
            return Err(self.explain(&format!(
                "你的代码在执行 {step} 时 panic 了：{}",
                quote(message)
            )));
        }
        let buffered = reply
            .get("buffered")
            .and_then(Value::as_u64)
            .ok_or_else(|| garbled("没有 buffered"))?;
        Ok(Ran {
            results,
            buffered: buffered as usize,
            printed,
        })
    }
}

/// 这一行是不是对请求 `id` 的回答（学生用 print! 留下的半行后面也可能接着回答）。
fn reply_to(line: &str, id: u64) -> Option<Value> {
    let reply = line
        .match_indices('{')
        .find_map(|(start, _)| serde_json::from_str::<Value>(&line[start..]).ok())?;
    (reply.get("id")?.as_u64()? == id).then_some(reply)
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::Encode(bytes) => json!(["encode", to_hex(bytes)]),
        Op::Extend(bytes) => json!(["extend", to_hex(bytes)]),
        Op::Next => json!(["next"]),
        Op::Feed { bytes, cuts } => json!(["feed", to_hex(bytes), cuts]),
        Op::Finish => json!(["finish"]),
        Op::Buffered => json!(["buffered"]),
    }
}

fn frame_err(item: &Value) -> Option<FrameErr> {
    let field = |name: &str| item.get(name).and_then(Value::as_u64).map(|n| n as usize);
    Some(match item.get("err")?.as_str()? {
        "too_long" => FrameErr::TooLong {
            len: field("len")?,
            max: field("max")?,
        },
        "truncated_header" => FrameErr::TruncatedHeader { got: field("got")? },
        "truncated_body" => FrameErr::TruncatedBody {
            len: field("len")?,
            got: field("got")?,
        },
        _ => FrameErr::Other(
            item.get("debug")
                .and_then(Value::as_str)
                .unwrap_or("（不认识的错误）")
                .to_string(),
        ),
    })
}

fn messages(value: &Value) -> Option<Vec<Vec<u8>>> {
    value
        .as_array()?
        .iter()
        .map(|m| m.as_str().and_then(from_hex))
        .collect()
}

// 十六进制的转换交给 hex 这个包（Cargo.toml 里让它在调试构建里也全速运行：
// 随机切分的测试要来回转换几千万个字节）。

fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}
