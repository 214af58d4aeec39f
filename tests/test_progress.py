"""Progress suits where the output goes: a bar on a terminal, a line every few percent in a log."""

import io

from tqdm import tqdm

from dglnb.config import TrainConfig
from dglnb.data.prep import run_clips
from dglnb.progress import EVERY, LogLines, progress
from dglnb.train import train


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_3000_clips_are_a_line_every_few_percent_not_one_long_redrawn_line():
    log = io.StringIO()
    bar = progress(total=3000, desc="cremad", unit="clip", stream=log)
    for _ in range(3000):
        bar.update()
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and log.getvalue().endswith("\n")
    assert len(lines) == 100 / EVERY + 1 and max(map(len, lines)) < 100
    assert lines[0].startswith("cremad:   0% 1/3000 clip [")
    assert lines[-1].startswith("cremad: 100% 3000/3000 clip [")
    assert [int(line.split("%")[0].split()[-1]) for line in lines] == [*range(0, 100, 5), 100]


def test_on_a_terminal_it_is_a_tqdm_bar():
    screen = Terminal()
    bar = progress(range(10), desc="epochs", stream=screen)
    assert isinstance(bar, tqdm)
    assert list(bar) == list(range(10)) and "\r" in screen.getvalue()


def test_an_iterable_shows_the_postfix_set_during_each_step_and_every_item():
    log = io.StringIO()
    items = []
    epochs = progress(range(4), desc="epochs", unit="epoch", stream=log)
    for epoch in epochs:
        items.append(epoch)
        epochs.set_postfix(val=f"{epoch / 10:.3f}")
    assert items == [0, 1, 2, 3]
    assert [line.split("] ")[1] for line in log.getvalue().splitlines()] == [
        "val=0.000",
        "val=0.100",
        "val=0.200",
        "val=0.300",
    ]


def test_turned_off_or_transient_outside_a_terminal_it_is_silent():
    log = io.StringIO()
    assert list(progress(range(5), enabled=False, stream=log)) == list(range(5))
    assert list(progress(range(5), leave=False, stream=log)) == list(range(5))
    assert log.getvalue() == ""
    assert isinstance(progress(range(5), leave=False, stream=Terminal()), tqdm)


def test_work_of_unknown_size_is_counted(monkeypatch):
    log = io.StringIO()
    assert list(LogLines(iter(range(7)), None, "scan", "file", log)) == list(range(7))
    assert log.getvalue().startswith("scan: 7 file [")


def test_data_preparation_reports_its_clips_in_lines(capsys):
    bad = run_clips(
        lambda n: "unreadable" if n == 3 else None,
        list(range(40)),
        [f"c{i}" for i in range(40)],
        desc="clips",
    )
    err = capsys.readouterr().err
    assert bad == {"c3": "unreadable"} and "\r" not in err
    assert err.splitlines()[-1].startswith("clips: 100% 40/40 clip [")


def test_a_training_run_logs_its_epochs_in_lines(tmp_path, capsys):
    train(TrainConfig(dataset="synthetic", method="dgl", profile="smoke", epochs=3, out=tmp_path))
    err = capsys.readouterr().err
    assert "\r" not in err
    assert [line.split(" [")[0] for line in err.splitlines() if line.startswith("epochs")] == [
        "epochs:  33% 1/3 epoch",
        "epochs:  66% 2/3 epoch",
        "epochs: 100% 3/3 epoch",
    ]
