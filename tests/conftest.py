from envs.headless import prefer_headless_video

prefer_headless_video(force=True)  # tests never open a real window, display or not


def selects_gpu_tests(mark_expression: str) -> bool:
    """Whether ``-m EXPRESSION`` selects a test marked ``gpu`` alone."""
    try:
        from _pytest.mark.expression import Expression

        return bool(Expression.compile(mark_expression).evaluate(lambda name, **_: name == "gpu"))
    except Exception:  # noqa: BLE001 (pytest's parser is private: read the words instead)
        words = mark_expression.replace("(", " ").replace(")", " ").split()
        return any(word == "gpu" and (index == 0 or words[index - 1] != "not") for index, word in enumerate(words))


def pytest_configure(config) -> None:
    """``pytest -m gpu`` where PyTorch sees no CUDA GPU fails in one line: a GPU run that skipped
    every test must not come out green."""
    import pytest

    if selects_gpu_tests(config.getoption("markexpr") or ""):
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                "-m gpu selects the CUDA tests, but PyTorch sees no CUDA GPU here: run them on a machine with one"
            )
