"""Visual Transformer layers of Wu et al. 2020, "Visual Transformers" (arXiv 2006.03677), Sec. 3.

Notation follows the paper. A feature map X [B, H, W, C] is read as HW pixels of C channels
(``X_flat`` [B, HW, C]); visual tokens T are [B, L, Ct] with L tokens of Ct channels. Every weight
is a bias-free matrix, as in the paper's equations.

One deliberate deviation: the content-content products (recurrent tokenizer, transformer,
projector) are divided by sqrt(d) as in Vaswani et al. 2017. The paper's equations leave the
scale out; without it the logits of 256-1024 channel features saturate the softmax at
initialisation. The filter tokenizer's logits are a plain linear map and are not scaled.

Options that are not in the paper, all off by default so that the paper's models stay as
published (docs/models.md, "VT variants for small data"): LayerNorm of the tokenizer's pixels
(`norm` of the tokenizers) and of the transformer's and projector's inputs (pre-norm, as in
ViT), and learned gains, dropout and stochastic depth on the residual branches
(`ResidualBranch`); and DeiT's distillation token (`DistillationToken`), which joins the
tokens in the transformers only.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

from models.layers.residual import ResidualBranch


def _flatten_pixels(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> [B, HW, C]."""
    return tf.reshape(x, [tf.shape(x)[0], -1, x.shape[-1]])


def _project(x: tf.Tensor, w: tf.Variable) -> tf.Tensor:
    """x [B, ..., C] @ w [C, D] -> [B, ..., D], as one 2-D product over all rows.

    Not `x @ w`: with a rank-3 x that is a broadcast batch product, whose weight gradient is a
    product per example summed over the batch, about twice as slow on CPU (docs/benchmarks.md,
    "VT training speed").
    """
    rows = tf.reshape(x, [-1, x.shape[-1]]) @ w
    inner = x.shape[1:-1]
    if None in inner:
        return tf.reshape(rows, tf.concat([tf.shape(x)[:-1], [w.shape[-1]]], axis=0))
    return tf.reshape(rows, [-1, *inner, w.shape[-1]])


def _layer_norm(enabled: bool, name: str) -> keras.layers.LayerNormalization | None:
    """A LayerNorm over channels (centred, unit-variance features), or None when not enabled."""
    return keras.layers.LayerNormalization(epsilon=1e-5, name=name) if enabled else None


def _apply(layer: keras.layers.Layer | None, x: tf.Tensor) -> tf.Tensor:
    """layer(x), or x unchanged when there is no layer."""
    return x if layer is None else layer(x)


def _build(layer: keras.layers.Layer | None, shape) -> None:
    if layer is not None:
        layer.build(shape)


def _branch_options(gain_init: float | None, dropout: float, survival_prob: float) -> dict:
    """A layer's `ResidualBranch` arguments, which are also its config's."""
    return {"gain_init": gain_init, "dropout": dropout, "survival_prob": survival_prob}


def _pool_tokens(attention: tf.Tensor, pixels: tf.Tensor, w_v: tf.Variable | None) -> tf.Tensor:
    """T = A^T (X_flat W_V): attention [B, HW, L], pixels [B, HW, C] -> tokens [B, L, Ct].

    Computed as (A^T X_flat) W_V, which is the same product with the cheap L-row side first.
    """
    tokens = tf.matmul(attention, pixels, transpose_a=True)
    return tokens if w_v is None else _project(tokens, w_v)


def _add_value_projection(
    layer: keras.layers.Layer, channels: int, token_channels: int | None
) -> tf.Variable | None:
    """W_V [C, Ct] of a tokenizer, or None when the tokens keep the feature map's C channels."""
    if token_channels is None or token_channels == channels:
        return None
    return layer.add_weight(name="w_v", shape=(channels, token_channels))


@keras.saving.register_keras_serializable(package="vt")
class FilterTokenizer(keras.layers.Layer):
    """Filter-based tokenizer, Sec. 3.1.1: T = softmax_HW(X_flat W_A)^T X_flat.

    Each of the L filters in W_A [C, L] scores every pixel; the softmax over the HW pixels turns
    the scores into a spatial attention map that pools the pixels into one token.

    Args:
        num_tokens: L, the number of visual tokens.
        token_channels: Ct. When set and different from C, the pooled values are projected,
            T = A^T (X_flat W_V) with W_V [C, Ct].
        norm: LayerNorm the pixels first (X_flat -> LN(X_flat)), not in the paper. Post-ReLU
            pixels all point into the positive orthant, so any pooling of them looks alike.

    Input: feature map X [B, H, W, C].
    Output: tokens T [B, L, Ct] (Ct = C when token_channels is None).
    """

    def __init__(
        self, num_tokens: int = 16, token_channels: int | None = None, norm: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_tokens = num_tokens
        self.token_channels = token_channels
        self.norm = norm
        self.pixel_norm = _layer_norm(norm, "pixel_norm")

    def build(self, input_shape):
        channels = input_shape[-1]
        _build(self.pixel_norm, input_shape)
        self.w_a = self.add_weight(name="w_a", shape=(channels, self.num_tokens))
        self.w_v = _add_value_projection(self, channels, self.token_channels)
        super().build(input_shape)

    def attention(self, x: tf.Tensor) -> tf.Tensor:
        """A = softmax_HW(X_flat W_A): X [B, H, W, C] -> A [B, HW, L], summing to 1 over HW."""
        return self._attention(self._pixels(x))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        pixels = self._pixels(x)
        return _pool_tokens(self._attention(pixels), pixels, self.w_v)

    def _pixels(self, x: tf.Tensor) -> tf.Tensor:
        return _flatten_pixels(_apply(self.pixel_norm, x))

    def _attention(self, pixels: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(_project(pixels, self.w_a), axis=1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "token_channels": self.token_channels,
            "norm": self.norm,
        }


@keras.saving.register_keras_serializable(package="vt")
class RecurrentTokenizer(keras.layers.Layer):
    """Recurrent tokenizer, Sec. 3.1.2: W_R = T_in W_{T->R}, T = softmax_HW(X_flat W_R^T)^T X_flat.

    The previous module's tokens choose the pixel-grouping filters, so tokenisation depends on
    the image content. The number of tokens L is that of T_in.

    Args:
        token_channels: Ct of the output tokens. When set and different from C, the pooled
            values are projected, T = A^T (X_flat W_V) with W_V [C, Ct].
        norm: LayerNorm the pixels and the input tokens first, not in the paper.

    Inputs: [X [B, H, W, C], T_in [B, L, Ct_in]].
    Output: tokens T [B, L, Ct] (Ct = C when token_channels is None).
    """

    def __init__(self, token_channels: int | None = None, norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.token_channels = token_channels
        self.norm = norm
        self.pixel_norm = _layer_norm(norm, "pixel_norm")
        self.token_norm = _layer_norm(norm, "token_norm")

    def build(self, input_shape):
        x_shape, tokens_shape = input_shape
        channels = x_shape[-1]
        _build(self.pixel_norm, x_shape)
        _build(self.token_norm, tokens_shape)
        self.w_tr = self.add_weight(name="w_tr", shape=(tokens_shape[-1], channels))
        self.w_v = _add_value_projection(self, channels, self.token_channels)
        super().build(input_shape)

    def attention(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        """A = softmax_HW(X_flat W_R^T / sqrt(C)): -> A [B, HW, L], summing to 1 over HW."""
        x, tokens = inputs
        return self._attention(self._pixels(x), tokens)

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        x, tokens = inputs
        pixels = self._pixels(x)
        return _pool_tokens(self._attention(pixels, tokens), pixels, self.w_v)

    def _pixels(self, x: tf.Tensor) -> tf.Tensor:
        return _flatten_pixels(_apply(self.pixel_norm, x))

    def _attention(self, pixels: tf.Tensor, tokens: tf.Tensor) -> tf.Tensor:
        w_r = _project(_apply(self.token_norm, tokens), self.w_tr)  # [B, L, C]: a filter each
        logits = tf.matmul(pixels, w_r, transpose_b=True)
        return tf.nn.softmax(logits / math.sqrt(pixels.shape[-1]), axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "token_channels": self.token_channels, "norm": self.norm}


@keras.saving.register_keras_serializable(package="vt")
class TokenTransformer(keras.layers.Layer):
    """Transformer over visual tokens, Sec. 3.2.

        T'_out = T_in + softmax_L((T_in K)(T_in Q)^T / sqrt(d)) (T_in V)      (Eq. 3)
        T_out = T'_out + relu(T'_out F1) F2                                    (Eq. 4)

    With one head there is no value or output projection (V is the identity), which is the
    paper's form. With num_heads > 1, K, Q and a value projection V [C, C] are split into heads
    along channels, the heads are concatenated and mixed by an output projection [C, C].

    Args:
        num_heads: attention heads; must divide key_channels and C.
        key_channels: width of T K and T Q, summed over heads. Defaults to C // 2 (paper).
        ffn_channels: width of F1 [C, ffn_channels]. Defaults to C (paper).
        norm: pre-norm (not in the paper): each equation reads LN(T) in place of T on the
            right-hand side; the residual stream T itself is not normalised.
        qk_norm: LayerNorm each head's keys T K and queries T Q before their product (not in
            the paper; Dehghani et al. 2023), which bounds the attention logits: without it
            K and Q can grow until every token attends to one token alone, and the tokens
            collapse into it (docs/models.md, "VT variants for small data").
        gain_init, dropout, survival_prob: of both residual branches (`ResidualBranch`).

    Input: tokens T_in [B, L, C].
    Output: tokens T_out [B, L, C].
    """

    def __init__(
        self,
        num_heads: int = 1,
        key_channels: int | None = None,
        ffn_channels: int | None = None,
        norm: bool = False,
        gain_init: float | None = None,
        dropout: float = 0.0,
        survival_prob: float = 1.0,
        qk_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_channels = key_channels
        self.ffn_channels = ffn_channels
        self.norm = norm
        self.qk_norm = qk_norm
        self.branch_options = _branch_options(gain_init, dropout, survival_prob)
        self.key_norm = _layer_norm(qk_norm, "key_norm")
        self.query_norm = _layer_norm(qk_norm, "query_norm")
        self.attention_norm = _layer_norm(norm, "attention_norm")
        self.ffn_norm = _layer_norm(norm, "ffn_norm")
        self.attention_branch = ResidualBranch(**self.branch_options, name="attention_branch")
        self.ffn_branch = ResidualBranch(**self.branch_options, name="ffn_branch")

    def build(self, input_shape):
        channels = input_shape[-1]
        key_channels = self.key_channels or channels // 2
        ffn_channels = self.ffn_channels or channels
        if key_channels % self.num_heads or channels % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide key_channels={key_channels} "
                f"and token channels={channels}."
            )
        self.w_k = self.add_weight(name="w_k", shape=(channels, key_channels))
        self.w_q = self.add_weight(name="w_q", shape=(channels, key_channels))
        self.w_v = self.w_o = None
        if self.num_heads > 1:
            self.w_v = self.add_weight(name="w_v", shape=(channels, channels))
            self.w_o = self.add_weight(name="w_o", shape=(channels, channels))
        self.w_f1 = self.add_weight(name="w_f1", shape=(channels, ffn_channels))
        self.w_f2 = self.add_weight(name="w_f2", shape=(ffn_channels, channels))
        for layer in (self.attention_norm, self.ffn_norm, self.attention_branch, self.ffn_branch):
            _build(layer, input_shape)
        for layer in (self.key_norm, self.query_norm):  # over one head's channels
            _build(layer, (*input_shape[:-1], key_channels // self.num_heads))
        super().build(input_shape)

    def attention(self, tokens: tf.Tensor) -> tf.Tensor:
        """softmax_L((T K)(T Q)^T / sqrt(d)): T [B, L, C] -> [B, heads, L, L], rows sum to 1."""
        attention = self._attention(_apply(self.attention_norm, tokens))
        return attention if self.num_heads > 1 else attention[:, tf.newaxis]

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        normed = _apply(self.attention_norm, tokens)
        values = normed if self.w_v is None else _project(normed, self.w_v)
        mixed = self._merge_heads(self._attention(normed) @ self._split_heads(values))
        if self.w_o is not None:
            mixed = _project(mixed, self.w_o)
        tokens = tokens + self.attention_branch(mixed)
        hidden = tf.nn.relu(_project(_apply(self.ffn_norm, tokens), self.w_f1))
        return tokens + self.ffn_branch(_project(hidden, self.w_f2))

    def _attention(self, tokens: tf.Tensor) -> tf.Tensor:
        keys = _apply(self.key_norm, self._split_heads(_project(tokens, self.w_k)))
        queries = _apply(self.query_norm, self._split_heads(_project(tokens, self.w_q)))
        logits = tf.matmul(keys, queries, transpose_b=True)
        return tf.nn.softmax(logits / math.sqrt(keys.shape[-1]), axis=-1)

    def _split_heads(self, x: tf.Tensor) -> tf.Tensor:
        """[B, L, D] -> [B, heads, L, D / heads]; unchanged with one head (no head axis, so no
        reshape and transpose per product)."""
        if self.num_heads == 1:
            return x
        x = tf.reshape(x, [tf.shape(x)[0], -1, self.num_heads, x.shape[-1] // self.num_heads])
        return tf.transpose(x, [0, 2, 1, 3])

    def _merge_heads(self, x: tf.Tensor) -> tf.Tensor:
        """[B, heads, L, D / heads] -> [B, L, D]; unchanged with one head."""
        if self.num_heads == 1:
            return x
        x = tf.transpose(x, [0, 2, 1, 3])
        return tf.reshape(x, [tf.shape(x)[0], -1, self.num_heads * x.shape[-1]])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_channels": self.key_channels,
            "ffn_channels": self.ffn_channels,
            "norm": self.norm,
            **self.branch_options,
            "qk_norm": self.qk_norm,
        }


@keras.saving.register_keras_serializable(package="vt")
class Projector(keras.layers.Layer):
    """Projector, Sec. 3.3: X_out = X_in + softmax_L((X_in W_Q)(T W_K)^T / sqrt(D)) (T W_V).

    Every pixel attends over the L tokens and adds back what it reads. W_Q [C, D], W_K [Ct, D]
    and W_V [Ct, C]; the paper has D = C and drops W_V when Ct == C, it is kept so token and
    feature widths may differ.

    Args:
        key_channels: D, the width of pixel queries and token keys. Defaults to C (paper).
        norm: pre-norm (not in the paper): queries from LN(X_in), keys and values from LN(T).
        gain_init, dropout, survival_prob: of the update (`ResidualBranch`).

    Inputs: [X_in [B, H, W, C], T [B, L, Ct]].
    Output: feature map X_out [B, H, W, C].
    """

    def __init__(
        self,
        key_channels: int | None = None,
        norm: bool = False,
        gain_init: float | None = None,
        dropout: float = 0.0,
        survival_prob: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.key_channels = key_channels
        self.norm = norm
        self.branch_options = _branch_options(gain_init, dropout, survival_prob)
        self.pixel_norm = _layer_norm(norm, "pixel_norm")
        self.token_norm = _layer_norm(norm, "token_norm")
        self.branch = ResidualBranch(**self.branch_options, name="branch")

    def build(self, input_shape):
        x_shape, tokens_shape = input_shape
        channels, token_channels = x_shape[-1], tokens_shape[-1]
        key_channels = self.key_channels or channels
        self.w_q = self.add_weight(name="w_q", shape=(channels, key_channels))
        self.w_k = self.add_weight(name="w_k", shape=(token_channels, key_channels))
        self.w_v = self.add_weight(name="w_v", shape=(token_channels, channels))
        _build(self.pixel_norm, x_shape)
        _build(self.token_norm, tokens_shape)
        self.branch.build(x_shape)
        super().build(input_shape)

    def attention(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        """Pixel-to-token attention: -> [B, HW, L], summing to 1 over the L tokens."""
        x, tokens = inputs
        return self._attention(x, _apply(self.token_norm, tokens))

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        x, tokens = inputs
        tokens = _apply(self.token_norm, tokens)
        update = self._attention(x, tokens) @ _project(tokens, self.w_v)  # [B, HW, C]
        return x + self.branch(tf.reshape(update, tf.shape(x)))

    def _attention(self, x: tf.Tensor, tokens: tf.Tensor) -> tf.Tensor:
        queries = _project(_flatten_pixels(_apply(self.pixel_norm, x)), self.w_q)  # [B, HW, D]
        keys = _project(tokens, self.w_k)  # [B, L, D]
        logits = tf.matmul(queries, keys, transpose_b=True)
        return tf.nn.softmax(logits / math.sqrt(self.w_q.shape[-1]), axis=-1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "key_channels": self.key_channels,
            "norm": self.norm,
            **self.branch_options,
        }


@keras.saving.register_keras_serializable(package="vt")
class DistillationToken(keras.layers.Layer):
    """DeiT's distillation token (Touvron et al. 2021): one learned token appended to the
    visual tokens, so that it attends with them in the transformer. Its own head learns from a
    teacher's predictions (models/vt_resnet.py). Initialised like DeiT's (normal, sd 0.02).

    Input: tokens [B, L, Ct]. Output: tokens [B, L + 1, Ct], the distillation token last.
    """

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token",
            shape=(1, 1, input_shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        super().build(input_shape)

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        return tf.concat([tokens, tf.tile(self.token, [tf.shape(tokens)[0], 1, 1])], axis=1)


def split_distillation_token(tokens: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """tokens [B, L + 1, Ct], the distillation token last -> (visual [B, L, Ct], it [B, 1, Ct])."""
    return tokens[:, :-1], tokens[:, -1:]


@keras.saving.register_keras_serializable(package="vt")
class SplitDistillationToken(keras.layers.Layer):
    """tokens [B, L + 1, Ct], the distillation token last -> (visual [B, L, Ct], it [B, Ct])."""

    def call(self, tokens: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        visual, token = split_distillation_token(tokens)
        return visual, token[:, 0]


@keras.saving.register_keras_serializable(package="vt")
class VTModule(keras.layers.Layer):
    """One visual-transformer module (Fig. 1): tokenizer -> transformer -> projector.

    Kept minimal: no BatchNorm or ReLU is added after the projector, because the paper's
    equations (1)-(5) define the module as exactly these three residual operations.

    Args:
        num_tokens: L for the filter-based tokenizer. A recurrent module keeps the number of
            tokens it is given.
        token_channels: Ct of the tokens; None keeps the feature map's C.
        num_heads: heads of the token transformer (1 is the paper's form).
        key_channels: key/query width of the token transformer (default Ct / 2, paper).
        ffn_channels: hidden width of the transformer's feed-forward (default Ct, paper).
        projector_channels: query/key width of the projector (default C, paper).
        recurrent: use the recurrent tokenizer, fed the previous module's tokens.
        project: run the projector. A classifier that reads only the tokens of its last module
            sets False there, so that module has no weights without gradient; X is then
            returned unchanged.
        tokenizer_norm: the tokenizer reads LayerNormed pixels (not in the paper).
        norm: pre-norm in the transformer and projector (not in the paper).
        gain_init, dropout, survival_prob: of every residual branch of the transformer and
            projector (`ResidualBranch`; the defaults are the paper's plain residuals).
        qk_norm: LayerNorm the transformer's keys and queries (`TokenTransformer`; not in
            the paper).
        distillation_token: carry a distillation token (not in the paper): it joins the
            tokenizer's L tokens in the transformer, and is the last of the module's output
            tokens. The first module adds it (`DistillationToken`); a recurrent module takes
            it as the last of T_in. The tokenizers and the projector see only the L visual
            tokens.

    Inputs: X [B, H, W, C], or [X, T_in [B, L, Ct_in]] when recurrent.
    Outputs: (X_out [B, H, W, C], T_out [B, L, Ct]); L + 1 tokens with a distillation token.
    """

    def __init__(
        self,
        num_tokens: int = 16,
        token_channels: int | None = None,
        num_heads: int = 1,
        key_channels: int | None = None,
        ffn_channels: int | None = None,
        projector_channels: int | None = None,
        recurrent: bool = False,
        project: bool = True,
        tokenizer_norm: bool = False,
        norm: bool = False,
        gain_init: float | None = None,
        dropout: float = 0.0,
        survival_prob: float = 1.0,
        qk_norm: bool = False,
        distillation_token: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_tokens = num_tokens
        self.token_channels = token_channels
        self.num_heads = num_heads
        self.key_channels = key_channels
        self.ffn_channels = ffn_channels
        self.projector_channels = projector_channels
        self.recurrent = recurrent
        self.project = project
        self.tokenizer_norm = tokenizer_norm
        self.norm = norm
        self.branch_options = _branch_options(gain_init, dropout, survival_prob)
        self.qk_norm = qk_norm
        self.distillation_token = distillation_token
        # The first module's token; recurrent modules carry it in T_in.
        self.new_token = None
        if distillation_token and not recurrent:
            self.new_token = DistillationToken(name="distillation_token")
        if recurrent:
            self.tokenizer = RecurrentTokenizer(token_channels, tokenizer_norm, name="tokenizer")
        else:
            self.tokenizer = FilterTokenizer(
                num_tokens, token_channels, tokenizer_norm, name="tokenizer"
            )
        self.transformer = TokenTransformer(
            num_heads,
            key_channels,
            ffn_channels,
            norm,
            **self.branch_options,
            qk_norm=qk_norm,
            name="transformer",
        )
        self.projector = None
        if project:
            self.projector = Projector(
                projector_channels, norm, **self.branch_options, name="projector"
            )

    def build(self, input_shape):
        if self.recurrent:
            x_shape, tokens_in_shape = input_shape
            num_tokens = tokens_in_shape[1]
        else:
            x_shape, num_tokens = input_shape, self.num_tokens
        if self.distillation_token and self.recurrent:
            num_tokens -= 1
            tokens_in_shape = (*tokens_in_shape[:1], num_tokens, *tokens_in_shape[2:])
            input_shape = [x_shape, tokens_in_shape]
        tokens_shape = (x_shape[0], num_tokens, self.token_channels or x_shape[-1])
        self.tokenizer.build(input_shape)
        _build(self.new_token, tokens_shape)
        self.transformer.build(tokens_shape)
        if self.projector is not None:
            self.projector.build([x_shape, tokens_shape])
        super().build(input_shape)

    def call(self, inputs: tf.Tensor | list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        x, tokenizer_inputs, carried = self._split_inputs(inputs)
        tokens = self.transformer(self._join(self.tokenizer(tokenizer_inputs), carried))
        if self.projector is not None:
            x = self.projector([x, self._visual(tokens)])
        return x, tokens

    def trace(self, inputs: tf.Tensor | list[tf.Tensor]) -> dict[str, tf.Tensor]:
        """The module's intermediate tensors in inference mode, for health metrics and figures.

        Keys: "x_in" [B, H, W, C]; "tokenizer_attention" [B, HW, L] (which pixels each token
        pools); "tokens_in" [B, L, Ct] (the tokenizer's tokens); "transformer_attention"
        [B, heads, L', L'] (which tokens each token reads; L' counts a distillation token);
        "tokens" [B, L, Ct] (the transformer's visual tokens, without a distillation token);
        "x_out"; and with a projector "projector_attention" [B, HW, L] (which tokens each
        pixel reads).
        """
        x, tokenizer_inputs, carried = self._split_inputs(inputs)
        tokens_in = self.tokenizer(tokenizer_inputs, training=False)
        transformer_in = self._join(tokens_in, carried)
        tokens = self._visual(self.transformer(transformer_in, training=False))
        steps = {
            "x_in": x,
            "tokenizer_attention": self.tokenizer.attention(tokenizer_inputs),
            "tokens_in": tokens_in,
            "transformer_attention": self.transformer.attention(transformer_in),
            "tokens": tokens,
            "x_out": x,
        }
        if self.projector is not None:
            steps["projector_attention"] = self.projector.attention([x, tokens])
            steps["x_out"] = self.projector([x, tokens], training=False)
        return steps

    def _split_inputs(self, inputs):
        """-> (X, the tokenizer's inputs, the distillation token carried in T_in or None)."""
        if not self.recurrent:
            return inputs, inputs, None
        x, tokens = inputs
        if not self.distillation_token:
            return x, inputs, None
        visual, carried = split_distillation_token(tokens)
        return x, [x, visual], carried

    def _join(self, tokens: tf.Tensor, carried: tf.Tensor | None) -> tf.Tensor:
        """The transformer's input: the visual tokens and the distillation token, if any."""
        if self.new_token is not None:
            return self.new_token(tokens)
        return tokens if carried is None else tf.concat([tokens, carried], axis=1)

    def _visual(self, tokens: tf.Tensor) -> tf.Tensor:
        return split_distillation_token(tokens)[0] if self.distillation_token else tokens

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "token_channels": self.token_channels,
            "num_heads": self.num_heads,
            "key_channels": self.key_channels,
            "ffn_channels": self.ffn_channels,
            "projector_channels": self.projector_channels,
            "recurrent": self.recurrent,
            "project": self.project,
            "tokenizer_norm": self.tokenizer_norm,
            "norm": self.norm,
            **self.branch_options,
            "qk_norm": self.qk_norm,
            "distillation_token": self.distillation_token,
        }
