"""The seed range: read from the request schema, so a server-picked seed can always be sent back."""
from __future__ import annotations

import copy

import pytest

from t2i_contract.spec import Spec, SpecError, load_spec
from t2i_contract.wire.seeds import SeedRange, seed_range


@pytest.mark.parametrize("operation", ["text2img", "img2img", "inpaint"])
def test_the_range_is_the_schemas_minimum_to_maximum(operation: str) -> None:
    assert seed_range(load_spec(), operation) == SeedRange(0, 2**32 - 1)


def test_a_picked_seed_is_inside_the_range_at_both_ends() -> None:
    seeds = SeedRange(5, 9)
    assert seeds.pick(lambda n: 0) == 5 and seeds.pick(lambda n: n - 1) == 9
    assert 9 in seeds and 10 not in seeds and True not in seeds


def test_the_next_seed_wraps_inside_the_range() -> None:
    assert SeedRange(0, 2**32 - 1).next(2**32 - 1) == 0 and SeedRange(3, 4).next(3) == 4


def test_a_seed_without_bounds_is_a_spec_error_naming_the_operation() -> None:
    document = copy.deepcopy(load_spec().document)
    del document["components"]["schemas"]["ImageGenerationParams"]["properties"]["seed"]["maximum"]
    with pytest.raises(SpecError, match="text2img's seed"):
        seed_range(Spec(document), "text2img")
