"""The frozen drug encoders behind ``--drug-encoder``."""
import numpy as np
import pytest

from thinbridge import config
from thinbridge import features as F
from thinbridge.config import ECFP_BITS
from thinbridge.features import drugs as FD
from thinbridge._util.errors import UserError

ASPIRIN, CAFFEINE = "CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
WIDTH = {"maccs": 167, "rdkit2d": len(FD._descriptor_functions())}


def test_the_command_line_names_every_encoder_and_only_those():
    assert tuple(F.DRUG_ENCODERS) == config.DRUG_ENCODERS


@pytest.mark.parametrize("name", config.DRUG_ENCODERS)
def test_each_encoder_gives_one_finite_row_per_molecule(name):
    x = F.encode_drugs([ASPIRIN, CAFFEINE], name)
    width = WIDTH.get(name, ECFP_BITS + WIDTH["rdkit2d"] if "+" in name else ECFP_BITS)
    assert x.shape == (2, width) and np.isfinite(x).all()
    assert (x[0] != x[1]).any() and (x != 0).any(axis=1).all()


def test_encoders_are_what_they_say():
    bits, counts = F.encode_drugs([ASPIRIN], "ecfp4"), F.encode_drugs([ASPIRIN], "ecfp4-count")
    np.testing.assert_array_equal(bits, F.ecfp4([ASPIRIN]))
    np.testing.assert_array_equal(counts > 0, bits > 0)  # the same environments, counted
    assert counts.max() > 1
    assert (F.encode_drugs([ASPIRIN], "ecfp6") != 0).sum() > (bits != 0).sum()  # radius 3 adds environments
    both = F.encode_drugs([ASPIRIN], "ecfp4+rdkit2d")
    np.testing.assert_array_equal(both[:, :ECFP_BITS], bits)


def test_identities_are_distinct_and_ecfp4_keeps_its_cache_name():
    ids = [i for i, _ in F.DRUG_ENCODERS.values()]
    assert len(set(ids)) == len(ids) and F.drug_encoder("ecfp4")[0] == F.ECFP_ID


def test_unknown_encoder_is_one_clear_error():
    with pytest.raises(UserError, match="unknown drug encoder 'ecfp5'"):
        F.encode_drugs([ASPIRIN], "ecfp5")
    with pytest.raises(UserError, match="drug encoder must be one of"):
        config.RunConfig(drug_encoder="ecfp5").validate()


def test_features_are_cached_under_the_encoders_identity(tmp_path):
    a = F.drug_features([ASPIRIN, CAFFEINE], tmp_path, show_progress=False, encoder="maccs")
    names = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert len(names) == 1 and names[0].startswith("drug-maccs-167-")
    np.testing.assert_array_equal(a, F.drug_features([ASPIRIN, CAFFEINE], tmp_path, False, "maccs"))


def test_descriptors_inside_a_daemonic_worker_run_in_that_worker():
    """rdkit2d spreads its work over processes, except inside a pool's (daemonic) worker, which may
    not have children: there it runs in place, with the same result."""
    from thinbridge._util.parallel import parallel_map

    smiles = [ASPIRIN, CAFFEINE] * 150  # more than one part of 256
    here = F.rdkit2d(smiles)
    inside = parallel_map(F.rdkit2d, [smiles, smiles[:2]], n_jobs=2)
    np.testing.assert_array_equal(inside[0], here)


def test_rdkit2d_equals_rdkit_s_own_descriptors_bit_for_bit():
    """Ipc and AvgIpc share their characteristic polynomial; every descriptor keeps RDKit's value."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    import pandas as pd

    from thinbridge._util.paths import shipped_data_path

    real = pd.read_csv(shipped_data_path(), sep="\t", dtype=str, keep_default_na=False)["canonical_smiles"]
    smiles = [ASPIRIN, "C", "[Na+].[Cl-]"] + [s for s in real.unique() if s][::97]  # ~35 real drugs, big ones too
    fns = FD._descriptor_functions()
    names = [n for n, _ in Descriptors._descList]
    assert fns[names.index("Ipc")] is not Descriptors.Ipc  # the shared path is the one tested
    for s in smiles:
        mine, theirs = Chem.MolFromSmiles(s), Chem.MolFromSmiles(s)
        ours = [FD._descriptor(f, mine) for f in fns]
        ref = [FD._descriptor(f, theirs) for _, f in Descriptors._descList]
        assert np.array_equal(np.array(ours), np.array(ref), equal_nan=True), s
