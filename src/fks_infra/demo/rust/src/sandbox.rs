//! `GET /probe/sandbox`: does the unit's sandbox allow what real FKS services need?
//!
//! The same four checks as the Python demo (`fks_demo/sandbox.py`), answered as
//! `{check: {"ok": bool, "error": str}}`: write and read a cache file, write into
//! `HOME`, pin the thread to its own CPUs (`sched_setaffinity`) and list the network
//! interfaces (`if_nameindex`, over netlink). `error` is empty when `ok`, else
//! `"[Errno N] text"` as the Python demo words it (`[Errno 1]` is EPERM, what a call
//! denied by the unit's `SystemCallFilter=` returns).
//!
//! std has no API for CPU affinity or interface lists: the two libc functions are
//! declared here, as main.rs declares signal(2); libc is linked by std on Linux anyway.

use std::env;
use std::ffi::c_char;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::process;

use crate::http::json_string;

/// The file each writing check leaves behind, overwritten by the next probe.
const PROBE_FILE: &str = "fks-demo-sandbox-probe";

/// glibc's `cpu_set_t`: 1024 CPUs, one bit each.
const CPU_SET_WORDS: usize = 1024 / 64;

#[repr(C)]
struct IfNameIndex {
    if_index: u32,
    if_name: *mut c_char,
}

extern "C" {
    fn sched_getaffinity(pid: i32, size: usize, mask: *mut u64) -> i32;
    fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    fn if_nameindex() -> *mut IfNameIndex;
    fn if_freenameindex(list: *mut IfNameIndex);
}

/// Every check, as the JSON object `GET /probe/sandbox` answers.
pub fn report() -> String {
    let checks: [(&str, Result<(), String>); 4] = [
        ("cache", cache_dir().and_then(write_and_read)),
        ("home", home_dir().and_then(write_and_read)),
        ("affinity", pin_to_own_cpus()),
        ("interfaces", list_interfaces()),
    ];
    let fields: Vec<String> = checks
        .iter()
        .map(|(name, outcome)| {
            let (ok, error) = match outcome {
                Ok(()) => (true, String::new()),
                Err(error) => (false, error.clone()),
            };
            format!(
                "{}: {{\"ok\": {}, \"error\": {}}}",
                json_string(name),
                ok,
                json_string(&error)
            )
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}

/// systemd's `$CACHE_DIRECTORY` (`CacheDirectory=`), else `$XDG_CACHE_HOME`.
fn cache_dir() -> Result<PathBuf, String> {
    for variable in ["CACHE_DIRECTORY", "XDG_CACHE_HOME"] {
        if let Some(value) = env::var_os(variable).filter(|value| !value.is_empty()) {
            let first = value
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            return Ok(PathBuf::from(first));
        }
    }
    Err("neither CACHE_DIRECTORY nor XDG_CACHE_HOME is set".to_string())
}

fn home_dir() -> Result<PathBuf, String> {
    env::var_os("HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| "HOME is not set".to_string())
}

fn write_and_read(directory: PathBuf) -> Result<(), String> {
    let path = directory.join(PROBE_FILE);
    let content = format!("written by pid {}\n", process::id());
    let shown = path.display();
    fs::write(&path, &content).map_err(|err| format!("{}: '{shown}'", errno(&err)))?;
    let read = fs::read_to_string(&path).map_err(|err| format!("{}: '{shown}'", errno(&err)))?;
    if read != content {
        return Err(format!("{shown} did not read back what was written"));
    }
    Ok(())
}

/// Pin this thread to the CPUs it may already use: a no-op the filter still sees.
fn pin_to_own_cpus() -> Result<(), String> {
    let mut mask = [0u64; CPU_SET_WORDS];
    let size = std::mem::size_of_val(&mask);
    // SAFETY: both calls read or write exactly `size` bytes of `mask`.
    if unsafe { sched_getaffinity(0, size, mask.as_mut_ptr()) } != 0 {
        return Err(errno(&io::Error::last_os_error()));
    }
    if unsafe { sched_setaffinity(0, size, mask.as_ptr()) } != 0 {
        return Err(errno(&io::Error::last_os_error()));
    }
    Ok(())
}

fn list_interfaces() -> Result<(), String> {
    // SAFETY: if_nameindex returns NULL or a list ended by a zero entry, which
    // if_freenameindex releases; nothing here keeps a pointer into it.
    let list = unsafe { if_nameindex() };
    if list.is_null() {
        return Err(errno(&io::Error::last_os_error()));
    }
    let first = unsafe { (*list).if_index };
    unsafe { if_freenameindex(list) };
    if first == 0 {
        return Err("if_nameindex() listed no interface".to_string());
    }
    Ok(())
}

/// `[Errno N] text`, as Python words an OSError; std's own text ends in "(os error N)".
fn errno(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => {
            let text = error.to_string();
            let text = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text);
            format!("[Errno {code}] {text}")
        }
        None => error.to_string(),
    }
}
