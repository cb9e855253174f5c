//! 评分的沙箱：学生写的一切（编译它、运行它的每个程序）都在这里面进行。
//!
//! 沙箱由 [bubblewrap](https://github.com/containers/bubblewrap)（`bwrap`）建：它是 Flatpak
//! 用的那个小工具，各个 Linux 发行版都有它的包，不需要 root，只要内核允许普通用户建用户命名空间。
//! 附录 B 说明了为什么选它（和 nsjail、hakoniwa、birdcage、extrasafe 比较过）。
//! 这里不自己写命名空间的代码，只决定沙箱里能看到什么：
//!
//! - **编译的沙箱**：工具链、依赖（`cargo vendor` 出来的源码）、练习册的规格都只读；
//!   学生交的练习文件一个个只读地盖在规格里原始练习的位置上；可写的只有这次编译自己的输出目录
//!   `/target` 和一个有大小上限的 `/tmp`。没有网络（只有自己的回环接口），看不到别的进程，
//!   环境变量只有这里设的几个。所以 `include_str!`、`env!` 和编译器的报错里不会出现沙箱外的东西。
//! - **测试的沙箱**：测试程序和它用到的实验程序（都只读），规格（快照）只读，学生编译出的程序只读，
//!   一个有大小上限的 `/tmp`。有自己的网络命名空间，只有回环接口：同时评的几个学生各用各的端口，
//!   谁也连不到谁，也连不到沙箱外面。
//! - **学生的程序再套一层**：测试程序每启动一个学生的程序，都经过 `/run/grading/<程序名>` 这个小脚本，
//!   它用 bwrap 再建一层：新的用户和 PID 命名空间（看不到、也没法给测试程序发信号或 ptrace 它），
//!   没有 `/proc`（拿不到测试程序的管道和可执行文件），只看得到系统目录和自己的程序，
//!   不许再建用户命名空间。它和测试程序共用网络命名空间，测试才连得上它。
//!
//! 沙箱的第一个进程一结束，内核就结束它 PID 命名空间里的所有进程：学生的程序 `setsid()` 也好、
//! 放到后台也好，都活不过这次运行。资源上限见 limits.rs。
//!
//! 每一层都一样：根目录、`/dev` 和 `/usr/local`（可能放着教师装的东西，例如 cargo 的凭据）
//! 在挂好之后设为只读，能写的只有有大小上限的 `/tmp` 和 `/dev/shm`（编译的沙箱另有 `/target`）；
//! bwrap 本身也不带评分器的环境变量启动（编译的沙箱里第一个进程就是 cargo，`/proc/1` 里没有 bwrap 的参数）；
//! 评分器继承来的文件描述符和会话密钥环一个也不带进去（limits.rs 的 `Group::apply`）。

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::limits::{Controller, Group, Limits};

/// 沙箱里的路径：规格（练习册的源码）、编译输出、工具链、依赖的源码、给学生程序的脚本和程序。
pub const SRC: &str = "/workbook";
pub const TARGET: &str = "/target";
const TOOLCHAIN: &str = "/toolchain";
const VENDOR: &str = "/vendor";
pub const RUN: &str = "/run/grading";

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

/// 编译的上限：rustc 和链接器要的内存多一些。
const BUILD_LIMITS: Limits = Limits {
    memory: 4 * GIB,
    tasks: 512,
    file_size: GIB,
    cpu_seconds: 1800,
};
const BUILD_TMP: u64 = 256 * MIB;

/// 测试的上限：测试程序、实验程序和学生的全部程序合计。
const TEST_LIMITS: Limits = Limits {
    memory: 3 * GIB,
    tasks: 1024,
    file_size: 256 * MIB,
    cpu_seconds: 900,
};
const TEST_TMP: u64 = 256 * MIB;
/// 每个学生程序自己的 /tmp
const PROGRAM_TMP: u64 = 16 * MIB;
/// 每一层的 /dev/shm（共享内存）
const SHM: u64 = 16 * MIB;
/// 学生的程序最多打开多少个文件（套接字也算）：测试最多同时连 100 个客户端；
/// 没有上限时，几千对回环连接塞满的 TCP 缓冲区是整台机器共用的内存
const PROGRAM_FILES: u32 = 512;

/// 每一层沙箱都有的：随评分器一起结束、自成一个会话，去掉全部 capabilities（bwrap 还设了 no_new_privs），
/// 里面的用户是普通用户 1000（不是 root；在沙箱外面对应运行评分的那个用户，但没有任何特权），
/// 主机名不是这台机器的。
const EVERY_LAYER: [&str; 11] = [
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--uid",
    "1000",
    "--gid",
    "1000",
    "--hostname",
    "grading",
    "--unshare-uts",
];

/// 能用的沙箱。
pub struct Sandbox {
    bwrap: PathBuf,
    /// 例如 `bubblewrap 0.8.0`
    version: String,
    /// 系统目录的挂载参数（/usr、/bin……和几个自己写的 /etc 文件），每层沙箱都一样
    system: Vec<OsString>,
    /// 给学生程序套第二层的脚本
    jail_script: PathBuf,
    pub limits: Controller,
}

/// 编译的沙箱里放什么。
pub struct BuildRoom<'a> {
    /// 工具链（`rustc --print sysroot`）
    pub toolchain: &'a Path,
    /// `cargo vendor` 出来的依赖源码
    pub vendor: &'a Path,
    /// 规格（练习册的全部文件）
    pub src: &'a Path,
    /// 盖在规格上的学生文件：（沙箱外的文件，规格里的相对路径）
    pub overlays: &'a [(PathBuf, String)],
    /// 编译输出（沙箱里唯一可写的目录）
    pub target: &'a Path,
}

/// 测试的沙箱里放什么。
pub struct TestRoom<'a> {
    pub src: &'a Path,
    /// 测试程序（沙箱外的路径）
    pub test_program: &'a Path,
    /// 测试用到的实验程序：（沙箱外的路径，程序名）
    pub labs: &'a [(PathBuf, String)],
    /// 学生编译出的程序：（沙箱外的路径，程序名）
    pub students: &'a [(PathBuf, String)],
}

/// 一条准备好的命令，和管着它的资源上限（运行期间要一直留着）。
pub struct Prepared {
    pub command: Command,
    pub group: Group,
}

impl Sandbox {
    /// 看看这台机器上能不能建沙箱：找到 bwrap，真的建一次（连同学生程序的那一层）。
    /// 不能时返回一段中文说明：缺什么、怎么补上，或者怎样在容器里评分。
    /// `files` 是放沙箱用的几个小文件的目录（评分器自己的，沙箱里只读）。
    pub fn detect(files: &Path) -> Result<Sandbox, String> {
        if !cfg!(target_os = "linux") {
            return Err(unavailable(
                "评分要把学生的程序放进 Linux 的沙箱（命名空间）里运行，这台机器不是 Linux。",
                "在 macOS 或 Windows 上，请用附录 B“准备一台能评分的机器”一节的容器：\
                 装好 Docker Desktop（或 Podman），在容器里运行同样的命令；\
                 Windows 上也可以在 WSL2 的 Ubuntu 里评分",
            ));
        }
        let bwrap = find_bwrap().ok_or_else(|| {
            unavailable(
                "找不到 bubblewrap（命令 bwrap）：评分用它给学生的程序建沙箱。",
                "安装它：Debian、Ubuntu 上 sudo apt-get install bubblewrap；\
                 Fedora 上 sudo dnf install bubblewrap；Arch 上 sudo pacman -S bubblewrap",
            )
        })?;
        let version = Command::new(&bwrap)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        fs::create_dir_all(files).map_err(|err| format!("无法创建 {}：{err}", files.display()))?;
        let etc = write_etc_files(files)?;
        let system = system_mounts(&etc);
        let jail_script = files.join("jail.sh");
        let sandbox = Sandbox {
            bwrap,
            version,
            system,
            jail_script: jail_script.clone(),
            limits: Controller::detect(),
        };
        write_file(&jail_script, &sandbox.jail_script_text(), 0o555)?;
        sandbox.try_it()?;
        Ok(sandbox)
    }

    /// 给人看的一句话：用什么建的沙箱，资源怎么限制。
    pub fn describe(&self) -> String {
        format!(
            "{}；资源上限：{}",
            if self.version.is_empty() {
                "bubblewrap"
            } else {
                &self.version
            },
            self.limits.describe()
        )
    }

    /// 真的建一次沙箱，里面再建一层学生程序的：都成功才算能用。
    fn try_it(&self) -> Result<(), String> {
        let mut args = self.outer(TEST_TMP);
        args.extend(ro(&self.bwrap, &format!("{RUN}/bwrap")));
        args.extend(sealed());
        args.push("--".into());
        args.push(format!("{RUN}/bwrap").into());
        args.extend(self.inner());
        args.extend(sealed());
        args.extend(["--", "/bin/sh", "-c", "exit 0"].map(OsString::from));
        let output = Command::new(&self.bwrap)
            .env_clear()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| {
                unavailable(
                    &format!("无法运行 {}：{err}", self.bwrap.display()),
                    "确认 bubblewrap 装好了：bwrap --version",
                )
            })?;
        if output.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        Err(unavailable(
            &format!("bubblewrap 建不了沙箱：{said}"),
            &namespace_fix(),
        ))
    }

    /// 每层外面的沙箱（编译的、测试的）共同的参数。
    fn outer(&self, tmp_size: u64) -> Vec<OsString> {
        // 全部命名空间都新建：用户、挂载、PID、网络（只有回环接口）、IPC、UTS、cgroup
        let mut args: Vec<OsString> = vec!["--unshare-all".into()];
        args.extend(EVERY_LAYER.map(OsString::from));
        args.extend(self.system.iter().cloned());
        args.extend(["--proc", "/proc", "--size"].map(OsString::from));
        args.push(tmp_size.to_string().into());
        args.extend(["--tmpfs", "/tmp", "--clearenv"].map(OsString::from));
        args
    }

    /// 学生程序那一层的参数（在测试的沙箱里运行，路径都是测试沙箱里的）。
    fn inner(&self) -> Vec<OsString> {
        // 网络命名空间不新建（和测试程序共用）；也不许学生的程序再建用户命名空间
        let mut args: Vec<OsString> = [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-cgroup-try",
            "--disable-userns",
        ]
        .map(OsString::from)
        .into();
        args.extend(EVERY_LAYER.map(OsString::from));
        // 系统目录：在测试的沙箱里，它们就在同样的位置
        args.extend(inner_system(&self.system));
        args.push("--size".into());
        args.push(PROGRAM_TMP.to_string().into());
        args.extend(["--tmpfs", "/tmp", "--chdir", "/tmp"].map(OsString::from));
        args
    }

    /// 在编译的沙箱里运行 cargo（`args` 之后自动加上离线、锁定依赖和 vendor 的设置）。
    pub fn cargo(&self, room: &BuildRoom, args: &[&str]) -> Result<Prepared, String> {
        let mut all = self.outer(BUILD_TMP);
        all.extend(ro(room.toolchain, TOOLCHAIN));
        all.extend(ro(room.vendor, VENDOR));
        all.extend(ro(room.src, SRC));
        for (file, relative) in room.overlays {
            all.extend(ro(file, &format!("{SRC}/{relative}")));
        }
        all.extend(bind(room.target, TARGET));
        all.extend(["--tmpfs", "/cargo", "--chdir", SRC].map(OsString::from));
        // 第一个进程就是 cargo：编译期的代码（include_str!("/proc/1/cmdline")）读不到 bwrap 的参数
        all.push("--as-pid-1".into());
        for (key, value) in [
            ("PATH", format!("{TOOLCHAIN}/bin:/usr/bin:/bin")),
            ("HOME", "/tmp".into()),
            ("CARGO_HOME", "/cargo".into()),
            ("CARGO_TARGET_DIR", TARGET.into()),
            ("RUSTC", format!("{TOOLCHAIN}/bin/rustc")),
            // 评分时不要增量编译的缓存和调试信息：程序小得多，链接和核对 SHA-256 都快得多
            ("CARGO_INCREMENTAL", "0".into()),
            ("CARGO_PROFILE_DEV_DEBUG", "0".into()),
            ("CARGO_TERM_COLOR", "never".into()),
        ] {
            all.extend(setenv(key, &value));
        }
        all.extend(sealed());
        all.push("--".into());
        all.push(format!("{TOOLCHAIN}/bin/cargo").into());
        all.extend(args.iter().map(OsString::from));
        all.extend(
            [
                "--locked",
                "--offline",
                "--config",
                "source.crates-io.replace-with=\"vendored-sources\"",
                "--config",
                &format!("source.vendored-sources.directory=\"{VENDOR}\""),
            ]
            .map(OsString::from),
        );
        self.prepare(all, BUILD_LIMITS)
    }

    /// 在测试的沙箱里运行测试程序。测试程序在 `/run/grading/deps/` 下，
    /// 它按自己的位置在 `/run/grading/<程序名>` 找学生的程序：那里是套第二层沙箱的脚本。
    pub fn tests(&self, room: &TestRoom, args: &[String]) -> Result<Prepared, String> {
        let name = room
            .test_program
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "exercises".into());
        let inside = format!("{RUN}/deps/{name}");
        let mut all = self.outer(TEST_TMP);
        all.extend(ro(room.src, SRC));
        for (lab, name) in room.labs {
            all.extend(ro(lab, &format!("{TARGET}/debug/{name}")));
        }
        all.extend(["--tmpfs", RUN].map(OsString::from));
        all.extend(ro(room.test_program, &inside));
        all.extend(ro(&self.bwrap, &format!("{RUN}/bwrap")));
        all.extend(ro(&self.jail_script, &format!("{RUN}/jail")));
        for (program, name) in room.students {
            all.extend(ro(program, &format!("{RUN}/student/{name}")));
            all.extend([
                "--symlink".into(),
                "jail".into(),
                format!("{RUN}/{name}").into(),
            ]);
        }
        all.extend(["--remount-ro", RUN, "--chdir", SRC].map(OsString::from));
        for (key, value) in [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("INSTA_UPDATE", "no"), // 快照是规格，评分时绝不改写
            ("RUST_BACKTRACE", "0"),
            ("WORKBOOK_SCRATCH", "/tmp"),
        ] {
            all.extend(setenv(key, value));
        }
        all.extend(sealed());
        all.push("--".into());
        all.push(inside.into());
        all.extend(args.iter().map(OsString::from));
        self.prepare(all, TEST_LIMITS)
    }

    fn prepare(&self, args: Vec<OsString>, limits: Limits) -> Result<Prepared, String> {
        let group = self.limits.group(limits)?;
        let mut command = Command::new(&self.bwrap);
        // bwrap 自己也不带评分器的环境变量：沙箱里它可能是 PID 1，/proc/1/environ 谁都读得到
        command.env_clear().args(args);
        group.apply(&mut command);
        Ok(Prepared { command, group })
    }

    /// 学生程序那一层的脚本。测试程序运行 `/run/grading/ex-tcp-server`（指向这个脚本的符号链接），
    /// 脚本按自己的名字找到 `/run/grading/student/ex-tcp-server`，在新的一层沙箱里运行它。
    fn jail_script_text(&self) -> String {
        let quote_all = |args: Vec<OsString>| {
            args.iter()
                .map(|arg| shell_quote(&arg.to_string_lossy()))
                .collect::<Vec<String>>()
                .join(" ")
        };
        format!(
            "#!/bin/sh\n\
             # 由评分器生成：在测试的沙箱里，给学生的一个程序再套一层沙箱\n\
             # （新的用户和 PID 命名空间、没有 /proc、只看得到系统目录和这个程序本身）。\n\
             name=${{0##*/}}\n\
             program={RUN}/student/$name\n\
             ulimit -n {PROGRAM_FILES}\n\
             exec {RUN}/bwrap {} --ro-bind \"$program\" \"$program\" {} -- \"$program\" \"$@\"\n",
            quote_all(self.inner()),
            quote_all(sealed())
        )
    }
}

/// 挂载都做完之后：根目录、`/dev`、`/usr/local` 设为只读（`/tmp` 和 `/dev/shm` 是另外挂的、有大小上限，不受影响）。
fn sealed() -> Vec<OsString> {
    let mut args: Vec<OsString> = ["--remount-ro", "/", "--remount-ro", "/dev"]
        .map(OsString::from)
        .into();
    if Path::new(USR_LOCAL).is_dir() {
        args.extend(["--remount-ro", USR_LOCAL].map(OsString::from));
    }
    args
}

const USR_LOCAL: &str = "/usr/local";

/// 说明为什么评不了、怎么办，末尾提一句 `--no-sandbox`。
fn unavailable(why: &str, fix: &str) -> String {
    format!(
        "{why}\n怎么办：{fix}。\n\
         评分器不会在没有沙箱的情况下悄悄评分：学生的程序能读写评分器能读写的一切。\
         一定要在这台机器上直接评分时，加上 --no-sandbox（风险自负：成绩表的每一行都会标上“未隔离”）。"
    )
}

/// bwrap 建不了命名空间时，按这台机器的设置说出该改哪一项。
fn namespace_fix() -> String {
    let read = |path: &str| fs::read_to_string(path).map(|s| s.trim().to_string());
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").is_ok_and(|v| v == "1") {
        return "这台机器（例如 Ubuntu 23.10 起）的 AppArmor 不许普通用户建用户命名空间。\
                运行 sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0，\
                或者用 root 运行评分"
            .into();
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").is_ok_and(|v| v == "0") {
        return "这台机器不许普通用户建用户命名空间。\
                运行 sudo sysctl -w kernel.unprivileged_userns_clone=1，或者用 root 运行评分"
            .into();
    }
    if read("/proc/sys/user/max_user_namespaces").is_ok_and(|v| v == "0") {
        return "这台机器把用户命名空间的个数上限设成了 0。\
                运行 sudo sysctl -w user.max_user_namespaces=15000"
            .into();
    }
    "如果评分器运行在容器里，容器默认不让建命名空间：用附录 B 给出的容器命令\
     （docker run 时加 --security-opt seccomp=unconfined --security-opt apparmor=unconfined），\
     或者在虚拟机、普通的 Linux 机器上评分"
        .into()
}

/// bwrap 在哪里：环境变量 WORKBOOK_BWRAP（测试用它换一个找不到的路径），否则在 PATH 里找。
fn find_bwrap() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WORKBOOK_BWRAP") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("bwrap"))
        .find(|p| p.is_file())
        .and_then(|p| fs::canonicalize(p).ok())
}

/// 沙箱里的 /etc 只有这几个文件，由评分器写：不暴露这台机器的主机名、用户和网络设置。
fn write_etc_files(dir: &Path) -> Result<Vec<(PathBuf, &'static str)>, String> {
    let files: [(&str, &str); 4] = [
        (
            "hosts",
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
        ),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files\n",
        ),
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\nstudent:x:1000:1000:student:/tmp:/bin/sh\n",
        ),
        ("group", "root:x:0:\nstudent:x:1000:\n"),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(format!("etc-{name}"));
        write_file(&path, text, 0o444)?;
        written.push((path, name));
    }
    Ok(written)
}

/// 写一个文件：先写到旁边的临时文件，再改名（同时运行的几次评分不会读到写了一半的文件）。
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let temporary = path.with_extension(format!("new-{}", std::process::id()));
    fs::write(&temporary, text).map_err(|err| format!("写不了 {}：{err}", temporary.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&temporary, fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    fs::rename(&temporary, path).map_err(|err| format!("写不了 {}：{err}", path.display()))
}

/// 系统目录：/usr 只读；/bin、/lib 这些在新的发行版上是指向 usr/ 的符号链接，照样建成符号链接，
/// 在老的发行版上是真目录，就只读地挂上；/etc 只给动态链接器和 cc 的几个文件，加上我们自己写的。
fn system_mounts(etc: &[(PathBuf, &str)]) -> Vec<OsString> {
    let mut args = ro(Path::new("/usr"), "/usr");
    // /usr/local 里可能放着教师装的东西（例如容器里 cargo 的家目录和凭据）：换成一个空的
    if Path::new(USR_LOCAL).is_dir() {
        args.extend(["--tmpfs", USR_LOCAL].map(OsString::from));
    }
    for dir in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = fs::read_link(dir) {
                    args.extend(["--symlink".into(), target.into_os_string(), dir.into()]);
                }
            }
            Ok(meta) if meta.is_dir() => args.extend(ro(Path::new(dir), dir)),
            _ => {}
        }
    }
    // cc 在 Debian 上是 /etc/alternatives 里的符号链接；其余是动态链接器的缓存和配置
    for path in [
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
    ] {
        args.extend(["--ro-bind-try".into(), path.into(), path.into()]);
    }
    for (file, name) in etc {
        args.extend(ro(file, &format!("/etc/{name}")));
    }
    args.extend(["--dev", "/dev", "--size"].map(OsString::from));
    args.push(SHM.to_string().into());
    args.extend(["--tmpfs", "/dev/shm"].map(OsString::from));
    args
}

/// 学生程序那一层的系统目录：和外层一样的布局，来源换成测试沙箱里的同一个路径。
fn inner_system(outer: &[OsString]) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut i = 0;
    while i < outer.len() {
        let flag = outer[i].to_string_lossy().to_string();
        match flag.as_str() {
            "--ro-bind" | "--ro-bind-try" if i + 2 < outer.len() => {
                let dest = outer[i + 2].clone();
                args.extend([outer[i].clone(), dest.clone(), dest]);
                i += 3;
            }
            "--symlink" if i + 2 < outer.len() => {
                args.extend(outer[i..i + 3].iter().cloned());
                i += 3;
            }
            _ => {
                args.push(outer[i].clone());
                i += 1;
            }
        }
    }
    args
}

fn ro(source: &Path, dest: &str) -> Vec<OsString> {
    vec![
        "--ro-bind".into(),
        source.as_os_str().to_owned(),
        dest.into(),
    ]
}

fn bind(source: &Path, dest: &str) -> Vec<OsString> {
    vec!["--bind".into(), source.as_os_str().to_owned(), dest.into()]
}

fn setenv(key: &str, value: &str) -> Vec<OsString> {
    vec!["--setenv".into(), key.into(), value.into()]
}

/// sh 的单引号：里面的单引号写成 '\''。
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_layer_mounts_what_the_outer_layer_shows() {
        let outer: Vec<OsString> = [
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--ro-bind",
            "/home/me/.sandbox/etc-hosts",
            "/etc/hosts",
            "--dev",
            "/dev",
        ]
        .map(OsString::from)
        .into();
        let inner: Vec<String> = inner_system(&outer)
            .iter()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        assert_eq!(
            inner,
            [
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/bin",
                "/bin",
                "--ro-bind",
                "/etc/hosts",
                "/etc/hosts",
                "--dev",
                "/dev"
            ]
        );
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
