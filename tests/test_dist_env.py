"""singa.dist.launch_info: the rank variables of the launchers, without MPI."""

import pytest

from singa.dist import is_rank0, launch_info


def test_plain_process_is_rank_0_of_1():
    assert launch_info({}) == (0, 1, 0, 1)
    assert is_rank0({})


def test_mpich_hydra_variables():
    info = launch_info({"PMI_RANK": "3", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1",
                        "MPI_LOCALNRANKS": "2"})
    assert (info.rank, info.world_size, info.local_rank, info.local_size) == (3, 4, 1, 2)
    assert not is_rank0({"PMI_RANK": "3", "PMI_SIZE": "4"})


def test_open_mpi_variables():
    env = {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
           "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"}
    assert launch_info(env) == (1, 2, 1, 2)


def test_local_rank_defaults_to_global_when_not_exported():
    assert launch_info({"RANK": "1", "WORLD_SIZE": "2"}) == (1, 2, 1, 2)


@pytest.mark.parametrize("env, word", [
    ({"PMI_RANK": "x", "PMI_SIZE": "2"}, "PMI_RANK='x'"),
    ({"PMI_RANK": "2", "PMI_SIZE": "2"}, "PMI_RANK=2"),
    ({"PMI_RANK": "0", "PMI_SIZE": "0"}, "PMI_SIZE=0"),
])
def test_bad_variables_are_named(env, word):
    with pytest.raises(ValueError, match=word):
        launch_info(env)
