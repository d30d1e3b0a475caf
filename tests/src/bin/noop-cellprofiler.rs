//! A command that does nothing but what a successful CellProfiler run leaves behind: an
//! empty Image.csv in `-o` and `Complete` in the done file `-d`. The worker benchmark uses
//! it to measure dcp's own cost per task.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let (Some(out), Some(done)) = (after("-o"), after("-d")) else {
        eprintln!("noop-cellprofiler: needs -o DIR and -d DONE_FILE");
        return std::process::ExitCode::from(2);
    };
    let written = std::fs::write(std::path::Path::new(out).join("Image.csv"), "")
        .and_then(|()| std::fs::write(done, "Complete\n"));
    match written {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("noop-cellprofiler: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
