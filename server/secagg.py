"""Secure aggregation by pairwise masking mod 2^k with dropout recovery (Bonawitz et al. 2017).

The pure core, for a semi-honest server: no I/O, no clocks. One round with devices 1..n:

1. every device makes fresh X25519 key pairs (masking, share encryption) and a 32-byte self seed,
   and advertises its two public keys (``SecAggDevice.public_keys``);
2. every device splits its masking private key and its self seed t-of-n with Shamir and sends one
   encrypted share pair to each device via the server (``shares_for_peers``/``receive_shares``);
3. every device sends ``y_u = x_u + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv)  (mod 2^k)``
   where ``s_uv`` comes from X25519(u, v); pairwise masks cancel in the sum (``masked_input``);
4. the server names the devices whose masked inputs arrived; each responder reveals, per owner,
   the self-seed share of a survivor or the masking-key share of a dropped device, never both
   (``reveal``); with ≥ t responders the server removes the leftover masks (``unmask_sum``).

PRG (specified for other implementations): ``ChaCha20`` (RFC 8439) with the 32-byte key, counter
0 and an all-zero nonce, keystream read as little-endian uint64 words, low k bits kept. Pairwise
keys are ``HKDF-SHA256(X25519 secret, info="fedlite/secagg/v1/pairwise/" + round_id)``; the self
seed is the key of its own mask.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.shamir import SHARE_BYTES, combine_shares, split_secret

__all__ = ["PublicKeys", "SecAggConfig", "SecAggDevice", "expand_mask", "unmask_sum"]

KEY_BYTES = 32
_NONCE_BYTES = 12
_ROUTING = struct.Struct(">HH")  # sender, recipient: bound into each share's associated data


@dataclass(frozen=True)
class SecAggConfig:
    """One round's parameters, identical on every device and the server."""

    round_id: bytes
    threshold: int
    modulus_bits: int = 32

    def __post_init__(self) -> None:
        if not self.round_id:
            raise ValueError("round_id must be non-empty")
        if self.threshold < 2:
            raise ValueError(f"threshold must be at least 2, got {self.threshold}")
        if not 8 <= self.modulus_bits <= 62:
            raise ValueError(f"modulus_bits must be in 8..62, got {self.modulus_bits}")

    @property
    def mask(self) -> np.uint64:
        return np.uint64((1 << self.modulus_bits) - 1)


@dataclass(frozen=True)
class PublicKeys:
    """A device's advertised raw X25519 public keys."""

    mask_key: bytes
    cipher_key: bytes


def expand_mask(key: bytes, length: int, modulus_bits: int) -> np.ndarray:
    """The PRG: ``length`` words mod 2^modulus_bits from ChaCha20(key, counter 0, nonce 0)."""
    encryptor = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    words = np.frombuffer(encryptor.update(bytes(8 * length)), dtype="<u8").astype(np.uint64)
    return words & np.uint64((1 << modulus_bits) - 1)


def _derive(secret: bytes, purpose: str, round_id: bytes) -> bytes:
    info = f"fedlite/secagg/v1/{purpose}/".encode() + round_id
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret)


def _agree(private_key: bytes, public_key: bytes) -> bytes:
    peer = X25519PublicKey.from_public_bytes(public_key)
    return X25519PrivateKey.from_private_bytes(private_key).exchange(peer)


def _public(private_key: bytes) -> bytes:
    public_key = X25519PrivateKey.from_private_bytes(private_key).public_key()
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _pairwise_mask(private_key: bytes, peer_public: bytes, config: SecAggConfig, length: int) -> np.ndarray:
    seed = _derive(_agree(private_key, peer_public), "pairwise", config.round_id)
    return expand_mask(seed, length, config.modulus_bits)


class SecAggDevice:
    """One device's side of a round; each step may run once, in order."""

    def __init__(self, index: int, config: SecAggConfig) -> None:
        if not 0 < index < 2**16:
            raise ValueError(f"device index must be in 1..65535, got {index}")
        self.index, self.config = index, config
        self._mask_key, self._cipher_key, self._self_seed = (os.urandom(KEY_BYTES) for _ in range(3))
        self._peers: dict[int, PublicKeys] = {}
        self._inbox: dict[int, bytes] = {}
        self._revealed = False

    def public_keys(self) -> PublicKeys:
        """The keys to advertise to the other devices through the server."""
        return PublicKeys(_public(self._mask_key), _public(self._cipher_key))

    def shares_for_peers(self, peers: Mapping[int, PublicKeys]) -> dict[int, bytes]:
        """Encrypted Shamir shares of this device's masking key and self seed, one per peer."""
        if peers.get(self.index) != self.public_keys():
            raise ValueError(f"the peer list does not carry device {self.index}'s own keys")
        if len(peers) < self.config.threshold:
            raise ValueError(f"{len(peers)} peers is fewer than the threshold {self.config.threshold}")
        self._peers = dict(peers)
        t, holders = self.config.threshold, sorted(peers)
        key_shares = split_secret(int.from_bytes(self._mask_key, "big"), t, holders)
        seed_shares = split_secret(int.from_bytes(self._self_seed, "big"), t, holders)
        return {v: self._seal(v, key_shares[v], seed_shares[v]) for v in holders}

    def receive_shares(self, inbox: Mapping[int, bytes]) -> None:
        """Keep the shares other devices sent to this one (sender index -> ciphertext)."""
        for sender, blob in inbox.items():
            self._open(sender, blob)  # authenticate now, so a bad share is reported at once
        self._inbox = dict(inbox)

    def masked_input(self, encoded: np.ndarray) -> np.ndarray:
        """The device's integer vector (mod 2^k) hidden under its self mask and pairwise masks."""
        if not self._peers:
            raise ValueError("shares_for_peers must run before masked_input")
        values = np.asarray(encoded, dtype=np.uint64) & self.config.mask
        masked = values + expand_mask(self._self_seed, values.size, self.config.modulus_bits)
        for peer, keys in self._peers.items():
            if peer != self.index:
                pairwise = _pairwise_mask(self._mask_key, keys.mask_key, self.config, values.size)
                masked = masked + pairwise if self.index < peer else masked - pairwise
        return masked & self.config.mask

    def reveal(self, survivors: Collection[int]) -> dict[int, int]:
        """Per owner, the seed share if it survived, else its masking-key share. Once per round."""
        if self._revealed:
            raise ValueError(f"device {self.index} has already revealed shares this round")
        chosen = set(survivors)
        if len(chosen) < self.config.threshold or not chosen <= set(self._peers):
            raise ValueError("refusing to reveal: the survivor set is too small or names unknown devices")
        self._revealed = True
        revealed = {}
        for sender, blob in self._inbox.items():
            key_share, seed_share = self._open(sender, blob)
            revealed[sender] = seed_share if sender in chosen else key_share
        return revealed

    def _channel(self, peer: int) -> ChaCha20Poly1305:
        secret = _agree(self._cipher_key, self._peers[peer].cipher_key)
        return ChaCha20Poly1305(_derive(secret, "shares", self.config.round_id))

    def _seal(self, recipient: int, key_share: int, seed_share: int) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = key_share.to_bytes(SHARE_BYTES, "big") + seed_share.to_bytes(SHARE_BYTES, "big")
        aad = self.config.round_id + _ROUTING.pack(self.index, recipient)
        return nonce + self._channel(recipient).encrypt(nonce, plaintext, aad)

    def _open(self, sender: int, blob: bytes) -> tuple[int, int]:
        if sender not in self._peers:
            raise ValueError(f"share from unknown device {sender}")
        aad = self.config.round_id + _ROUTING.pack(sender, self.index)
        try:
            plain = self._channel(sender).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise ValueError(f"share from device {sender} failed authentication") from None
        return int.from_bytes(plain[:SHARE_BYTES], "big"), int.from_bytes(plain[SHARE_BYTES:], "big")


def unmask_sum(
    config: SecAggConfig,
    peers: Mapping[int, PublicKeys],
    masked_inputs: Mapping[int, np.ndarray],
    reveals: Mapping[int, Mapping[int, int]],
) -> np.ndarray:
    """The sum mod 2^k of the survivors' vectors (the devices in ``masked_inputs``).

    ``reveals`` maps each responding device to its ``SecAggDevice.reveal`` output; at least
    ``threshold`` responders are needed. Dropped devices' pairwise masks are rebuilt from their
    recovered masking keys, survivors' self masks from their recovered seeds.
    """
    if len(masked_inputs) < config.threshold or len(reveals) < config.threshold:
        raise ValueError(f"unmasking needs at least {config.threshold} survivors and responders")
    lengths = {np.shape(vector) for vector in masked_inputs.values()}
    if len(lengths) != 1:
        raise ValueError(f"masked inputs differ in shape: {sorted(lengths)}")
    survivors, length = sorted(masked_inputs), lengths.pop()[0]
    total = np.zeros(length, np.uint64)
    for u in survivors:
        total = total + np.asarray(masked_inputs[u], dtype=np.uint64)
    for u in survivors:
        total = total - expand_mask(_recover(reveals, u, config.threshold), length, config.modulus_bits)
    for v in sorted(set(peers) - set(survivors)):
        key = _recover(reveals, v, config.threshold)
        if _public(key) != peers[v].mask_key:
            raise ValueError(f"recovered masking key of device {v} does not match its advertised key")
        for u in survivors:
            pairwise = _pairwise_mask(key, peers[u].mask_key, config, length)
            total = total - pairwise if u < v else total + pairwise
    return total & config.mask


def _recover(reveals: Mapping[int, Mapping[int, int]], owner: int, threshold: int) -> bytes:
    shares = {responder: shares[owner] for responder, shares in reveals.items() if owner in shares}
    secret = combine_shares(shares, threshold)
    if secret >= 1 << (8 * KEY_BYTES):
        raise ValueError(f"shares revealed for device {owner} are inconsistent")
    return secret.to_bytes(KEY_BYTES, "big")
