//! Running CellProfiler: the argv (never a shell string), its output streamed into the
//! task's log, and its whole process group stopped when the attempt is abandoned.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use dcp_common::Config;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How the load-data file is handed to CellProfiler, by its extension.
#[derive(Clone, Debug, PartialEq)]
pub enum DataFile {
    /// `--data-file=CSV` (a LoadData CSV).
    Csv(PathBuf),
    /// `--file-list=TXT`.
    FileList(PathBuf),
    /// A CreateBatchFiles batch file, run as `-p BATCH` (its own pipeline) for `-g GROUP`,
    /// with `--data-file=CSV` when its LoadData needs a CSV (see [`crate::batch`]).
    Batch {
        /// The batch file CellProfiler runs, in place of the task's pipeline.
        batch: PathBuf,
        /// LoadData's CSV, when the batch file's pipeline loads images with LoadData.
        data_file: Option<PathBuf>,
    },
}

/// One CellProfiler run of a group.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    /// Pipeline or batch file.
    pub pipeline: &'a Path,
    /// `-i`: the input folder.
    pub input: &'a Path,
    /// `-o`: where CellProfiler writes.
    pub output: &'a Path,
    /// `-d`: the done file.
    pub done_file: &'a Path,
    /// The load-data file.
    pub data_file: &'a DataFile,
    /// `-g`: the group as `Key=Value,…`, its values as CellProfiler will compare them (a
    /// batch file: as the batch file records them).
    pub group: &'a str,
}

/// The command and arguments of a run: CELLPROFILER, CELLPROFILER_ARGS, then DCP's
/// `-c -r -p -i -o -d` with the data file, `-g`, the plugins directory and
/// `--always-continue` as configured.
pub fn argv(config: &Config, run: &Run<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![config.cellprofiler.clone().into()];
    args.extend(config.cellprofiler_args.iter().map(OsString::from));
    let flag = |name: &str, path: &Path| {
        let mut arg = OsString::from(name);
        arg.push(path);
        arg
    };
    let pipeline = match run.data_file {
        DataFile::Batch { batch, .. } => batch.as_path(),
        _ => run.pipeline,
    };
    args.extend(["-c".into(), "-r".into(), "-p".into(), pipeline.into()]);
    args.extend([
        "-i".into(),
        run.input.into(),
        "-o".into(),
        run.output.into(),
        "-d".into(),
        run.done_file.into(),
    ]);
    match run.data_file {
        DataFile::Csv(csv) => args.push(flag("--data-file=", csv)),
        DataFile::FileList(list) => args.push(flag("--file-list=", list)),
        DataFile::Batch { data_file, .. } => {
            args.extend(data_file.as_deref().map(|csv| flag("--data-file=", csv)));
        }
    }
    args.extend(["-g".into(), run.group.into()]);
    args.extend(tail_args(config));
    args
}

/// The arguments every task of `config` shares: CELLPROFILER_ARGS, then what
/// [`argv`] puts after `-g` (the plugins directory, `--always-continue`). A warm runner
/// applies them once, as it starts.
pub fn shared_args(config: &Config) -> Vec<OsString> {
    let mut args: Vec<OsString> = config
        .cellprofiler_args
        .iter()
        .map(OsString::from)
        .collect();
    args.extend(tail_args(config));
    args
}

fn tail_args(config: &Config) -> Vec<OsString> {
    let mut args = Vec::new();
    if config.use_plugins && !config.plugins_directory.is_empty() {
        let mut flag = OsString::from("--plugins-directory=");
        flag.push(dcp_common::cellprofiler::plugins_folder(Path::new(
            &config.plugins_directory,
        )));
        args.push(flag);
    }
    if config.always_continue {
        args.push("--always-continue".into());
    }
    args
}

/// The environment dcp runs CellProfiler in, cold or warm:
/// - BLAS libraries get one thread each unless the environment already says how many:
///   parallelism comes from the copies (DOCKER_CORES). Left alone, numpy's BLAS spins a
///   thread per core and the copies steal each other's CPU.
/// - `PYTHONHASHSEED=0`: one order of Python's string sets in every process. CellProfiler's
///   upgrades of older pipelines build lists from sets (MeasureCorrelation revision 3 →
///   MeasureColocalization's images and objects, likewise MeasureTexture,
///   MeasureObjectIntensityDistribution, MeasureImageIntensity: `upgrade_settings` in
///   `cellprofiler/modules/*.py`), so with Python's per-process random seed each process
///   measured other image pairs (`Correlation_Correlation_DNA_ER` in one task,
///   `…_ER_DNA` in the next) and orders its columns differently.
pub fn environment(command: &mut tokio::process::Command) {
    for name in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"] {
        if std::env::var_os(name).is_none() {
            command.env(name, "1");
        }
    }
    command.env("PYTHONHASHSEED", "0");
}

/// Has the kernel kill the command's process when the worker dies.
pub fn die_with_worker(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe prctl(2) call.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// Kills a process group when dropped, so an abandoned attempt leaves no CellProfiler behind.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Runs `argv` in a process group of its own with stdout and stderr appended to `log`;
/// returns its exit code (`None` when a signal ended it). If the returned future is
/// dropped, the whole group is killed; if the worker dies, the kernel kills CellProfiler.
/// It runs in [`environment`].
pub async fn run(argv: &[OsString], log: &File) -> std::io::Result<Option<i32>> {
    let mut command = tokio::process::Command::new(&argv[0]);
    environment(&mut command);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .process_group(0)
        .kill_on_drop(true);
    die_with_worker(&mut command);
    let mut child = command.spawn()?;
    let _group = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));
    let status = child.wait().await?;
    Ok(status.code())
}

/// How a process ended, in words: `exited with 255`, or `was ended by a signal` when it
/// has no exit code (what [`run`] returns).
pub fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exited with {code}"),
        None => "was ended by a signal".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(config: &Config, data_file: &DataFile) -> Vec<String> {
        args_for(config, data_file, "Metadata_Plate=P1,Metadata_Well=A01")
    }

    fn args_for(config: &Config, data_file: &DataFile, group: &str) -> Vec<String> {
        let run = Run {
            pipeline: Path::new("/w/p.cppipe"),
            input: Path::new("/in"),
            output: Path::new("/out"),
            done_file: Path::new("/done"),
            data_file,
            group,
        };
        argv(config, &run)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn argv_is_dcps_command_line() {
        let mut config = Config {
            cellprofiler_args: vec!["-e".into(), "imageio_reader".into()],
            ..Config::default()
        };
        let csv = DataFile::Csv("/s/load_data.csv".into());
        assert_eq!(
            args(&config, &csv).join(" "),
            "cellprofiler -e imageio_reader -c -r -p /w/p.cppipe -i /in -o /out -d /done \
             --data-file=/s/load_data.csv -g Metadata_Plate=P1,Metadata_Well=A01"
        );
        config.use_plugins = true;
        config.plugins_directory = "/plugins".into();
        config.always_continue = true;
        let tail: Vec<String> =
            args(&config, &DataFile::FileList("/s/list.txt".into())).split_off(13);
        assert_eq!(
            tail,
            [
                "--file-list=/s/list.txt",
                "-g",
                "Metadata_Plate=P1,Metadata_Well=A01",
                "--plugins-directory=/plugins",
                "--always-continue"
            ]
        );
        let batch = DataFile::Batch {
            batch: "/s/Batch_data.h5".into(),
            data_file: None,
        };
        assert_eq!(
            args_for(&config, &batch, "Metadata_Plate=P1,Metadata_Well=1")[3..15].join(" "),
            "-c -r -p /s/Batch_data.h5 -i /in -o /out -d /done \
             -g Metadata_Plate=P1,Metadata_Well=1"
        );
        let batch = DataFile::Batch {
            batch: "/s/Batch_data.h5".into(),
            data_file: Some("/s/rows.csv".into()),
        };
        let batch = args_for(&config, &batch, "Metadata_Plate=P1");
        assert_eq!(batch[6], "/s/Batch_data.h5");
        assert_eq!(
            batch[13..16],
            ["--data-file=/s/rows.csv", "-g", "Metadata_Plate=P1"]
        );
    }

    #[tokio::test]
    async fn cellprofiler_runs_with_one_string_hash_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("task.log");
        let file = File::create(&log).unwrap();
        let argv: Vec<OsString> = ["sh", "-c", "echo seed=$PYTHONHASHSEED"]
            .map(OsString::from)
            .into();
        assert_eq!(run(&argv, &file).await.unwrap(), Some(0));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "seed=0\n");
    }
}
