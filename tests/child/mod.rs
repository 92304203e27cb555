//! Shared by the tests that run the binary: waiting for it with a time limit.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` and waits at most a minute for it: what blocked for ever before fails
/// the test instead of hanging the suite.
pub fn output_within_a_minute(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("{command:?} was still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
