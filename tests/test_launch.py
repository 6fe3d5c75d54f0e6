"""Launchers: the exact commands each prints with --dry_run, what runs without it (with
fake srun/sbatch/gcloud on PATH), and one clear usage error for bad arguments. No JAX."""
import json
import os
import shlex
import stat
import subprocess
import sys

import pytest

from launch import local, multi_gpu, slurm, tpu, workers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TRAIN = ["-m", "experiments.train", "--config=experiments/configs/demos.py:smoke",
         "--workdir=/shared/runs/a b"]       # a space: quoting must survive


def fake_tool(directory, name, body):
  """An executable `name` in `directory` running the bash `body`."""
  path = directory / name
  path.write_text("#!/bin/bash\n" + body + "\n")
  path.chmod(path.stat().st_mode | stat.S_IEXEC)
  return path


def usage_error(main, argv, capsys, match):
  with pytest.raises(SystemExit) as e:
    main(argv)
  err = capsys.readouterr().err
  assert e.value.code == 2 and match in err, err


# local ---------------------------------------------------------------------------------

def test_local_refuses_zero_processes_and_a_missing_command(capsys):
  usage_error(local.main, ["--num_processes=0", "--", "-m", "x"], capsys, "--num_processes")
  usage_error(local.main, ["--dry_run"], capsys, "give the command after --")
  usage_error(local.main, ["--", "python3", "-m", "x"], capsys, "not the interpreter")


# multi_gpu -----------------------------------------------------------------------------

def test_multi_gpu_dry_run_is_one_process_with_optional_visible_devices(capsys):
  assert multi_gpu.main(["--dry_run", "--"] + TRAIN) == 0
  assert shlex.split(capsys.readouterr().out) == [sys.executable] + TRAIN
  assert multi_gpu.main(["--gpus=2,0", "--dry_run", "--"] + TRAIN) == 0
  out = capsys.readouterr().out
  assert out.count("\n") == 1
  assert shlex.split(out) == ["CUDA_VISIBLE_DEVICES=2,0", sys.executable] + TRAIN


def test_multi_gpu_runs_the_command_with_its_env_and_exit_code(capfd):
  code = multi_gpu.main(["--gpus=1", "--", "-c", "import os, sys; "
                         "print('seen', os.environ['CUDA_VISIBLE_DEVICES']); sys.exit(3)"])
  assert code == 3 and "seen 1" in capfd.readouterr().out


@pytest.mark.parametrize("gpus", ["0,0", "a", "0,-1", ""])
def test_multi_gpu_bad_gpu_list(gpus, capsys):
  usage_error(multi_gpu.main, [f"--gpus={gpus}", "--dry_run", "--"] + TRAIN, capsys, "--gpus")


# slurm ---------------------------------------------------------------------------------

SLURM_ARGS = ["--nodes=2", "--gpus_per_node=4", "--time=2-00:00:00", "--partition=gpu",
              "--account=proj", "--venv=/shared/venv", "--repo=/shared/efjax",
              "--setup=module load cuda/12.4", "--sbatch=--qos=high"]


def test_slurm_dry_run_prints_exactly_the_script_and_the_sbatch_command(capsys):
  argv = SLURM_ARGS + ["--dry_run", "--"] + TRAIN
  assert slurm.main(argv) == 0
  out = capsys.readouterr().out
  assert out == "\n".join([
      "#!/bin/bash",
      "#SBATCH --job-name=efjax",
      "#SBATCH --nodes=2",
      "#SBATCH --ntasks-per-node=1",
      "#SBATCH --time=2-00:00:00",
      "#SBATCH --output=logs/%x-%j.out",
      "#SBATCH --gres=gpu:4",
      "#SBATCH --partition=gpu",
      "#SBATCH --account=proj",
      "#SBATCH --signal=TERM@120",
      "#SBATCH --qos=high",
      "# Written by: " + shlex.join(["python", "-m", "launch.slurm"] + argv),
      "set -eo pipefail",
      "cd /shared/efjax",
      "source /shared/venv/bin/activate",
      "module load cuda/12.4",
      "export EFJAX_AUTO_DISTRIBUTED=1",
      "export JAX_LOCAL_DEVICE_IDS=0,1,2,3",
      "srun --kill-on-bad-exit=1 python " + shlex.join(TRAIN),
      "sbatch logs/efjax.sbatch", ""])


def test_slurm_per_gpu_one_task_per_gpu_and_jax_picks_the_gpu(capsys):
  slurm.main(["--gpus_per_node=8", "--per_gpu", "--dry_run", "--"] + TRAIN)
  out = capsys.readouterr().out
  assert "#SBATCH --ntasks-per-node=8\n" in out and "#SBATCH --gres=gpu:8\n" in out
  assert "JAX_LOCAL_DEVICE_IDS" not in out      # jax.distributed uses SLURM_LOCALID


def test_slurm_cpu_cluster_and_container(capsys):
  slurm.main(["--gpus_per_node=0", "--container=nvcr.io/x/efjax:1", "--repo=/r", "--dry_run",
              "--"] + TRAIN)
  out = capsys.readouterr().out
  assert "gres" not in out and "export JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo\n" in out
  srun = next(line for line in out.splitlines() if line.startswith("srun"))
  assert shlex.split(srun) == ["srun", "--kill-on-bad-exit=1",
                               "--container-image=nvcr.io/x/efjax:1", "--container-mounts=/r:/r",
                               "--container-workdir=/r", "python"] + TRAIN


def test_slurm_script_runs_under_bash_with_a_fake_srun(tmp_path, capsys):
  """The script is valid bash: it cds, exports, and hands srun the exact command."""
  fake_tool(tmp_path, "srun", f'echo "$EFJAX_AUTO_DISTRIBUTED $PWD" > {tmp_path}/seen; '
            f'printf "%s\\n" "$@" >> {tmp_path}/seen')
  slurm.main(["--gpus_per_node=2", f"--repo={tmp_path}", "--dry_run", "--"] + TRAIN)
  script = capsys.readouterr().out.rsplit("\nsbatch ", 1)[0]
  env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
  subprocess.run(["bash", "-c", script], check=True, env=env)
  seen = (tmp_path / "seen").read_text().splitlines()
  assert seen == [f"1 {tmp_path}", "--kill-on-bad-exit=1", "python"] + TRAIN


def test_slurm_submits_the_written_script_with_sbatch(tmp_path, monkeypatch, capsys):
  fake_tool(tmp_path, "sbatch", f'cp "$1" {tmp_path}/submitted')
  monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
  monkeypatch.chdir(tmp_path)
  assert slurm.main(["--job_name=run1", "--"] + TRAIN) == 0
  out = capsys.readouterr().out
  assert (tmp_path / "submitted").read_text() == (tmp_path / "logs/run1.sbatch").read_text()
  assert out == (tmp_path / "submitted").read_text() + "sbatch logs/run1.sbatch\n"
  assert (tmp_path / "logs").is_dir()          # sbatch writes no log into a missing dir


def test_slurm_without_sbatch_says_so(tmp_path, monkeypatch, capsys):
  monkeypatch.setenv("PATH", str(tmp_path))
  monkeypatch.chdir(tmp_path)
  assert slurm.main(["--"] + TRAIN) == 1
  assert "sbatch not found" in capsys.readouterr().err
  assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("args,match", [
    (["--nodes=0"], "--nodes"), (["--per_gpu", "--gpus_per_node=0"], "--per_gpu"),
    (["--time=soon"], "--time"), (["--gpus_per_node=-1"], "--gpus_per_node"),
    (["--venv=v", "--container=c"], "not both"), (["--job_name=a b"], "--job_name"),
    (["--nodes=two"], "invalid int")])
def test_slurm_bad_arguments(args, match, capsys):
  usage_error(slurm.main, args + ["--dry_run", "--"] + TRAIN, capsys, match)


def test_slurm_warns_about_a_host_local_workdir(capsys):
  slurm.main(["--dry_run", "--", "-m", "experiments.train", "--workdir", "/tmp/run"])
  assert "shared storage" in capsys.readouterr().err


# tpu -----------------------------------------------------------------------------------

def test_tpu_dry_run_prints_exactly_the_gcloud_commands(capsys):
  argv = ["--name=pod-1", "--zone=us-central2-b", "--project=p", "--setup", "--dry_run",
          "--"] + TRAIN
  assert tpu.main(argv) == 0
  lines = capsys.readouterr().out.splitlines()
  ssh = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod-1", "--zone=us-central2-b",
         "--project=p", "--worker=all"]
  version = tpu.jax_version()
  assert [shlex.split(line) for line in lines] == [
      ssh + ["--command=cd efjax && python3 -m pip install -r requirements.txt && "
             f'python3 -m pip install "jax[tpu]=={version}"'],
      ssh + ["--command=cd efjax && EFJAX_AUTO_DISTRIBUTED=1 python3 " + shlex.join(TRAIN)]]
  # What each worker's shell runs: the exact python arguments, quoting intact.
  remote = shlex.split(shlex.split(lines[1])[-1].split("=", 1)[1])
  assert remote == ["cd", "efjax", "&&", "EFJAX_AUTO_DISTRIBUTED=1", "python3"] + TRAIN
  assert version == next(line.split("==")[1].strip() for line in open(f"{ROOT}/requirements.txt")
                         if line.startswith("jax["))


def test_tpu_runs_setup_then_training_and_stops_on_failure(tmp_path, monkeypatch, capsys):
  fake_tool(tmp_path, "gcloud", f'echo "${{@: -1}}" >> {tmp_path}/calls; '
            'case "${@: -1}" in *pip*) exit "${SETUP_CODE:-0}";; esac')
  monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
  argv = ["--name=pod-1", "--zone=z", "--setup_command=git clone u efjax", "--"] + TRAIN
  assert tpu.main(argv) == 0
  calls = (tmp_path / "calls").read_text().splitlines()
  assert calls[0] == "--command=git clone u efjax" and "experiments.train" in calls[1]
  (tmp_path / "calls").unlink()
  monkeypatch.setenv("SETUP_CODE", "3")
  assert tpu.main(["--name=pod-1", "--zone=z", "--setup", "--"] + TRAIN) == 3
  assert len((tmp_path / "calls").read_text().splitlines()) == 1     # training never started


@pytest.mark.parametrize("args,match", [
    (["--zone=z"], "--name"), (["--name=n"], "--zone"), (["--name=My_TPU", "--zone=z"], "--name"),
    (["--name=n", "--zone=z", "--", "python", "-m", "x"], "not the interpreter")])
def test_tpu_bad_arguments(args, match, capsys):
  argv = args if "--" in args else args + ["--dry_run", "--"] + TRAIN
  usage_error(tpu.main, argv, capsys, match)


def test_tpu_without_gcloud_says_so(tmp_path, monkeypatch, capsys):
  monkeypatch.setenv("PATH", str(tmp_path))
  assert tpu.main(["--name=n", "--zone=z", "--"] + TRAIN) == 1
  assert "gcloud not found" in capsys.readouterr().err


# workers -------------------------------------------------------------------------------

def test_workers_split_the_cores_into_blocks_covering_each_once():
  assert workers.core_blocks([0, 1], 2) == [[0], [1]]
  assert workers.core_blocks([0, 1, 2, 3, 4], 2) == [[0, 1, 2], [3, 4]]
  assert workers.core_blocks([2, 5, 7], 1) == [[2, 5, 7]]
  assert workers.core_blocks(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]


def test_workers_dry_run_pins_each_and_single_threads_xla_on_one_core(monkeypatch, capsys):
  monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
  assert workers.main(["--dry_run", "--"] + TRAIN) == 0
  lines = [shlex.split(line) for line in capsys.readouterr().out.splitlines()]
  flags = "--xla_force_host_platform_device_count=1 " + workers.SINGLE_THREAD_FLAG
  assert lines == [[f"XLA_FLAGS={flags}", "taskset", "-c", str(i), sys.executable] + TRAIN
                   for i in range(3)]
  assert workers.main(["--num_processes=2", "--dry_run", "--"] + TRAIN) == 0
  lines = [shlex.split(line) for line in capsys.readouterr().out.splitlines()]
  assert [line[:4] for line in lines] == [
      ["XLA_FLAGS=--xla_force_host_platform_device_count=1", "taskset", "-c", "0,1"],
      [f"XLA_FLAGS={flags}", "taskset", "-c", "2"]]
  monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")   # the user's wins
  assert workers.main(["--num_processes=3", "--dry_run", "--"] + TRAIN) == 0
  lines = [shlex.split(line) for line in capsys.readouterr().out.splitlines()]
  assert {line[0] for line in lines} == {"XLA_FLAGS=--xla_cpu_multi_thread_eigen=true"}
  usage_error(workers.main, ["--num_processes=4", "--"] + TRAIN, capsys, "--num_processes")
  usage_error(workers.main, ["--num_processes=0", "--"] + TRAIN, capsys, "--num_processes")


def test_workers_run_on_their_own_cores_and_return_the_first_error(tmp_path, monkeypatch):
  monkeypatch.delenv("XLA_FLAGS", raising=False)
  cores = sorted(os.sched_getaffinity(0))
  n = min(2, len(cores))
  script = ("import json, os, sys; c = sorted(os.sched_getaffinity(0)); "
            "print(json.dumps([c, os.environ.get('XLA_FLAGS')])); "
            f"sys.exit(3 if c[0] == {cores[0]} else 0)")
  code = workers.main([f"--num_processes={n}", f"--log_dir={tmp_path}", "--", "-c", script])
  assert code == 3                       # the worker on the first core failed
  seen = [json.loads((tmp_path / f"worker-{i}.log").read_text().splitlines()[-1])
          for i in range(n)]
  assert sorted(c for block, _ in seen for c in block) == cores   # every core, once
  for block, flags in seen:
    assert (flags == workers.SINGLE_THREAD_FLAG) == (len(block) == 1), (block, flags)


def test_workers_pass_sigterm_on(tmp_path):
  pid_file = tmp_path / "pid"
  proc = subprocess.Popen(
      [sys.executable, "-m", "launch.workers", "--num_processes=1", "--", "-c",
       f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
       "print('up', flush=True); time.sleep(120)"],
      cwd=ROOT, stdout=subprocess.PIPE, text=True)
  proc.stdout.readline()                 # the command line
  assert proc.stdout.readline() == "up\n"
  proc.terminate()
  assert proc.wait(timeout=30) != 0
  with pytest.raises(ProcessLookupError):    # the worker went with it
    os.kill(int(pid_file.read_text()), 0)


# every launcher as a command ------------------------------------------------------------

@pytest.mark.parametrize("module,args", [
    ("launch.local", ["--num_processes=2"]), ("launch.multi_gpu", []),
    ("launch.slurm", ["--nodes=2"]), ("launch.tpu", ["--name=n", "--zone=z"]),
    ("launch.workers", ["--num_processes=1"])])
def test_python_dash_m_dry_run_and_usage_error(module, args):
  ok = subprocess.run([sys.executable, "-m", module] + args + ["--dry_run", "--"] + TRAIN,
                      capture_output=True, text=True, cwd=ROOT)
  assert ok.returncode == 0 and shlex.join(TRAIN[:2]) in ok.stdout, ok.stderr
  bad = subprocess.run([sys.executable, "-m", module] + args + ["--dry_run"],
                       capture_output=True, text=True, cwd=ROOT)
  assert bad.returncode == 2 and "error: give the command after --" in bad.stderr
  assert "Traceback" not in bad.stderr
