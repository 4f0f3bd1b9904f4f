"""The analytic cost counter and the registered VT-ResNets against the paper's Table 8."""

import pytest
import tf_keras as keras

from bench.model_costs import PAPER_TABLE_8, model_cost
from models.costs import count_macs, count_params
from models.layers.vt import VTModule


def test_conv_and_dense_macs_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    assert count_macs(model) == 4 * 4 * (3 * 3 * 3 * 4) + 4 * 5
    assert count_params(model) == 3 * 3 * 3 * 4 + 4 * 5 + 5


def test_vt_module_macs_by_hand():
    # HW = 12 pixels of C = 8, L = 4 tokens of Ct = 6, transformer keys 3, ffn 6, no projector.
    hw, c, num_tokens, ct = 12, 8, 4, 6
    inputs = keras.Input((3, 4, c))
    _, tokens = VTModule(num_tokens=num_tokens, token_channels=ct, project=False)(inputs)
    model = keras.Model(inputs, tokens)
    tokenizer = 2 * hw * c * num_tokens + num_tokens * c * ct
    transformer = num_tokens * (2 * ct * 3 + 2 * ct * ct) + num_tokens * num_tokens * (3 + ct)
    assert count_macs(model) == tokenizer + transformer


@pytest.mark.parametrize("recurrent", [False, True])
def test_a_distillation_token_is_one_more_token_in_the_transformer_only(recurrent):
    c, num_tokens, ct = 8, 4, 6

    def macs(distillation_token: bool) -> int:
        x = keras.Input((3, 4, c))
        # A recurrent module's T_in carries the distillation token as its last token.
        tokens_in = keras.Input((num_tokens + distillation_token, ct))
        inputs = [x, tokens_in] if recurrent else x
        module = VTModule(
            num_tokens=num_tokens,
            token_channels=ct,
            project=False,
            recurrent=recurrent,
            distillation_token=distillation_token,
        )
        return count_macs(keras.Model(inputs, module(inputs)[1]))

    extra_token = (2 * ct * 3 + 2 * ct * ct) + (2 * num_tokens + 1) * (3 + ct)
    assert macs(True) == macs(False) + extra_token


@pytest.mark.parametrize("name", ["vt_resnet18", "vt_resnet50"])
def test_vt_resnet_costs_within_5_percent_of_paper(name):
    row = model_cost(name, 224)
    assert abs(row["macs_vs_paper"]) < 0.05, row
    assert abs(row["params_vs_paper"]) < 0.05, row
    assert set(PAPER_TABLE_8) >= {name, name.removeprefix("vt_")}


@pytest.mark.parametrize("vt_name", ["vt_resnet_tiny", "vt_resnet_tiny_prenorm"])
def test_tiny_pair_is_comparable(vt_name):
    cnn, vt = model_cost("resnet_tiny", 32), model_cost(vt_name, 32)
    assert vt["params"] == pytest.approx(cnn["params"], rel=0.1)
    assert vt["macs"] == pytest.approx(cnn["macs"], rel=0.05)
