//! 沙箱里的资源上限：内存、进程数、文件大小、CPU 时间。
//!
//! 能用 cgroup 就用 cgroup：它管的是整个沙箱的合计（测试程序、实验程序和学生的全部进程一起），
//! 超过内存上限时内核只在这个沙箱里找进程结束，超过进程数上限时 fork 失败，别的沙箱和机器照常。
//! cgroup v2 是现在的发行版的默认；也认 cgroup v1（一些容器和老系统还在用）。两种都只在以 root
//! 运行时使用：普通用户没有办法在自己的 cgroup 下面再建子 cgroup 并把进程放进去
//! （systemd 的委派需要另开一个服务单元，这里不依赖 systemd）。
//!
//! 用不了 cgroup 时只剩 rlimit：它管的是每个进程各自的用量（地址空间、CPU 时间），
//! 进程数的上限按这个用户已有的进程另加一份。这时的内存上限是“每个进程”而不是“整个沙箱”。
//! 无论哪种，文件大小（RLIMIT_FSIZE）和 core 文件（RLIMIT_CORE = 0）都用 rlimit 限制；
//! 沙箱里的 /tmp 另有大小上限（见 sandbox.rs）。
//!
//! 这一层只是几次文件写入和 setrlimit，没有自己建命名空间：命名空间由 bubblewrap 建（sandbox.rs）。

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// 一次沙箱运行的上限。
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // 沙箱只在 Linux 上建，别处用不到这些值
pub struct Limits {
    /// 内存（字节）：cgroup 时是整个沙箱合计，rlimit 时是每个进程的地址空间
    pub memory: u64,
    /// 进程和线程的个数
    pub tasks: u64,
    /// 写出的单个文件最大多少字节
    pub file_size: u64,
    /// 每个进程最多用多少秒 CPU
    pub cpu_seconds: u64,
}

/// 设一项 rlimit（软、硬上限一样），失败就从 pre_exec 的闭包里返回错误。
/// 用宏而不是函数：setrlimit 第一个参数的类型在 glibc 和 musl 上不一样，宏让编译器自己推断。
#[cfg(target_os = "linux")]
macro_rules! set_limit {
    ($resource:expr, $value:expr) => {{
        let value = libc::rlim_t::try_from($value).unwrap_or(libc::RLIM_INFINITY);
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        if libc::setrlimit($resource, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }};
}

/// cgroup v1 里 TCP 缓冲区最多占多少内存。
const TCP_MEMORY: u64 = 512 * 1024 * 1024;

/// 用哪一种办法限制。
#[derive(Debug)]
enum Control {
    /// cgroup v2：每次运行在 `parent` 下面建一个子 cgroup
    V2 { parent: PathBuf },
    /// cgroup v1：pids 和 memory 两个层级里各建一个
    V1 { pids: PathBuf, memory: PathBuf },
    /// 只有 rlimit
    Rlimits,
}

/// 评分进程里唯一的一个：决定用哪种办法，给每次运行起不重复的名字。
#[derive(Debug)]
pub struct Controller {
    control: Control,
    next: AtomicUsize,
}

impl Controller {
    /// 看看这台机器上能用哪种办法。环境变量 `WORKBOOK_CGROUPS=off` 强制只用 rlimit
    /// （测试用它检验没有 cgroup 的机器上的做法）。
    pub fn detect() -> Controller {
        let off = std::env::var("WORKBOOK_CGROUPS").is_ok_and(|v| v == "off");
        let control = if off || !is_root() {
            Control::Rlimits
        } else {
            v2().or_else(v1).unwrap_or(Control::Rlimits)
        };
        Controller {
            control,
            next: AtomicUsize::new(0),
        }
    }

    /// 给人看的一句话，例如“cgroup v2（整个沙箱合计）”。
    pub fn describe(&self) -> &'static str {
        match self.control {
            Control::V2 { .. } => "cgroup v2（内存、进程数按整个沙箱合计）",
            Control::V1 { .. } => "cgroup v1（内存、进程数按整个沙箱合计）",
            Control::Rlimits => {
                "rlimit（没有可用的 cgroup：内存按每个进程的地址空间算，进程数按这个用户合计）"
            }
        }
    }

    /// 为一次运行建好限制（cgroup 就建好目录、写好上限），返回的 [`Group`] 要在运行之前
    /// 交给 [`Group::apply`]，运行结束后丢掉（丢掉时结束里面剩下的进程、删掉 cgroup）。
    pub fn group(&self, limits: Limits) -> Result<Group, String> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let name = format!("run-{}-{n}", std::process::id());
        let mut group = Group {
            limits,
            dirs: Vec::new(),
            joins: Vec::new(),
            cgroup: !matches!(self.control, Control::Rlimits),
            tasks_before: 0,
        };
        match &self.control {
            Control::V2 { parent } => {
                let dir = parent.join(&name);
                group.make(&dir)?;
                write(&dir.join("memory.max"), limits.memory)?;
                let _ = write(&dir.join("memory.swap.max"), 0); // 没开 swap 的机器上没有这个文件
                write(&dir.join("pids.max"), limits.tasks)?;
                group.join(&dir)?;
            }
            Control::V1 { pids, memory } => {
                let dir = pids.join(&name);
                group.make(&dir)?;
                write(&dir.join("pids.max"), limits.tasks)?;
                group.join(&dir)?;
                let dir = memory.join(&name);
                group.make(&dir)?;
                write(&dir.join("memory.limit_in_bytes"), limits.memory)?;
                // 内存加交换区的合计（内核开了 swap 记账才有这个文件）：不许把内存换出去绕过上限
                let _ = write(&dir.join("memory.memsw.limit_in_bytes"), limits.memory);
                // TCP 缓冲区占的内存：cgroup v1 默认不记在内存上限里（v2 记），另设一个上限
                let _ = write(&dir.join("memory.kmem.tcp.limit_in_bytes"), TCP_MEMORY);
                group.join(&dir)?;
            }
            Control::Rlimits => group.tasks_before = tasks_of_this_user(),
        }
        Ok(group)
    }
}

/// 一次运行的限制。
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // 沙箱只在 Linux 上建
pub struct Group {
    limits: Limits,
    /// 建出来的 cgroup 目录（结束时删掉）
    dirs: Vec<PathBuf>,
    /// 各个 cgroup 的 cgroup.procs，事先打开：子进程在 exec 之前往里写 0，就把自己放了进去
    joins: Vec<fs::File>,
    cgroup: bool,
    /// 只有 rlimit 时：这个用户开始时已有的进程（线程）数
    tasks_before: u64,
}

impl Group {
    fn make(&mut self, dir: &Path) -> Result<(), String> {
        fs::create_dir(dir).map_err(|err| format!("无法创建 cgroup {}：{err}", dir.display()))?;
        self.dirs.push(dir.to_path_buf());
        Ok(())
    }

    fn join(&mut self, dir: &Path) -> Result<(), String> {
        let procs = dir.join("cgroup.procs");
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&procs)
            .map_err(|err| format!("无法打开 {}：{err}", procs.display()))?;
        self.joins.push(file);
        Ok(())
    }

    /// 让 `command` 启动的进程（bubblewrap，以及沙箱里它启动的一切）受这些限制。
    #[cfg(target_os = "linux")]
    pub fn apply(&self, command: &mut std::process::Command) {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let joins: Vec<i32> = self.joins.iter().map(AsRawFd::as_raw_fd).collect();
        let limits = self.limits;
        let cgroup = self.cgroup;
        // 进程数按这个用户合计：同时评的几个工位（最多 4 个）各自的上限里都给别的工位留出余地
        let tasks = self
            .tasks_before
            .saturating_add(self.limits.tasks.saturating_mul(4));
        // SAFETY: 这个闭包在 fork 之后、exec 之前运行，只做异步信号安全的系统调用
        // （write、keyctl、close_range、close、setrlimit），不分配内存、不加锁
        unsafe {
            command.pre_exec(move || {
                for fd in &joins {
                    // cgroup.procs 里写 0 表示“写的这个进程”
                    if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // 一个新的、空的会话密钥环：评分器的会话密钥环（例如 SSH 登录时 pam_keyinit 建的）
                // 里的密钥，沙箱里读不到；沙箱里放进去的密钥，随沙箱一起消失
                const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
                libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_JOIN_SESSION_KEYRING,
                    std::ptr::null::<libc::c_char>(),
                );
                // 评分器从它的父进程继承来的文件描述符（例如 make 的 jobserver 管道）一个也不带进沙箱：
                // 0、1、2 之外全部关掉（cgroup 的那几个已经用完了）
                if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                    for fd in 3..4096 {
                        libc::close(fd);
                    }
                }
                set_limit!(libc::RLIMIT_CORE, 0u64);
                set_limit!(libc::RLIMIT_FSIZE, limits.file_size);
                set_limit!(libc::RLIMIT_CPU, limits.cpu_seconds);
                if !cgroup {
                    set_limit!(libc::RLIMIT_AS, limits.memory);
                    set_limit!(libc::RLIMIT_NPROC, tasks);
                }
                Ok(())
            });
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn apply(&self, _command: &mut std::process::Command) {}

    /// 结束这次运行里剩下的每一个进程。沙箱有自己的 PID 命名空间，bubblewrap 一结束，
    /// 内核就结束了里面的全部进程；这里再按 cgroup 查一遍，一个也不留。
    pub fn kill_all(&self) {
        for dir in &self.dirs {
            let kill = dir.join("cgroup.kill"); // cgroup v2，Linux 5.14 起
            if kill.exists() && fs::write(&kill, "1").is_ok() {
                continue;
            }
            // 一边杀一边会不会有新进程冒出来？最多来回 100 次
            for _ in 0..100 {
                let pids = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                if pids.trim().is_empty() {
                    break;
                }
                for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    signal_kill(pid);
                }
                std::thread::yield_now();
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill_all();
        for dir in &self.dirs {
            // 进程刚被杀掉时 cgroup 可能还“忙”一小会儿：最多等一秒
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

#[cfg(unix)]
fn signal_kill(pid: i32) {
    // SAFETY: 只是发信号
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn signal_kill(_pid: i32) {}

fn write(path: &Path, value: u64) -> Result<(), String> {
    fs::write(path, value.to_string()).map_err(|err| format!("写不了 {}：{err}", path.display()))
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid 没有副作用
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

/// cgroup v2：`/sys/fs/cgroup` 本身是统一的层级，根上开着 memory 和 pids 两个控制器。
/// 我们的子树 `socket-workbook` 建在根下（以 root 运行时才能把别处的进程移进来）。
fn v2() -> Option<Control> {
    let root = Path::new("/sys/fs/cgroup");
    let available = fs::read_to_string(root.join("cgroup.controllers")).ok()?;
    if !(available.contains("memory") && available.contains("pids")) {
        return None;
    }
    let _ = fs::write(root.join("cgroup.subtree_control"), "+memory +pids");
    let parent = root.join("socket-workbook");
    let _ = fs::create_dir(&parent);
    fs::write(parent.join("cgroup.subtree_control"), "+memory +pids").ok()?;
    let enabled = fs::read_to_string(parent.join("cgroup.subtree_control")).ok()?;
    (enabled.contains("memory") && enabled.contains("pids") && probe(&parent))
        .then_some(Control::V2 { parent })
}

/// cgroup v1：`/sys/fs/cgroup/pids` 和 `/sys/fs/cgroup/memory` 是两个层级；
/// 在评分进程自己所在的 cgroup 下面建子 cgroup（它本身的上限也管着我们）。
fn v1() -> Option<Control> {
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path_in = |controller: &str| {
        own.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
            names
                .split(',')
                .any(|n| n == controller)
                .then(|| path.trim_start_matches('/').to_string())
        })
    };
    let pids = Path::new("/sys/fs/cgroup/pids").join(path_in("pids")?);
    let memory = Path::new("/sys/fs/cgroup/memory").join(path_in("memory")?);
    (pids.join("tasks").exists()
        && memory.join("memory.limit_in_bytes").exists()
        && probe(&pids)
        && probe(&memory))
    .then_some(Control::V1 { pids, memory })
}

/// 能不能在 `dir` 下建、删子 cgroup。
fn probe(dir: &Path) -> bool {
    let test = dir.join(format!("probe-{}", std::process::id()));
    let made = fs::create_dir(&test).is_ok();
    let _ = fs::remove_dir(&test);
    made
}

/// 这个用户现在有多少个进程（按线程算：RLIMIT_NPROC 数的就是线程）。
fn tasks_of_this_user() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: getuid 没有副作用
        let uid = unsafe { libc::getuid() }.to_string();
        let Ok(entries) = fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|e| fs::read_to_string(e.path().join("status")).ok())
            .filter(|status| {
                status.lines().any(|l| {
                    l.strip_prefix("Uid:")
                        .and_then(|rest| rest.split_whitespace().next())
                        == Some(uid.as_str())
                })
            })
            .map(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .unwrap_or(1)
            })
            .sum()
    }
    #[cfg(not(unix))]
    {
        0
    }
}
