//! latent.wgsl against cpu::latent: the VAE's sampling with its KL term, its backward, and
//! the L1 penalty, over their tables, within `tables::LATENT_TOL` (ε's transcendentals).

mod common;

use wgsl_autoencoder::check::tables;

#[test]
fn reparameterisation_and_kl_match_the_reference() {
    let cases = tables::reparam_kl_forward();
    // Heads of zeros: z is ε itself, so ε agrees within the tolerance on every shape.
    assert!(cases.iter().any(|c| c.label.starts_with("z = ε")));
    common::assert_cases(&cases);
}

#[test]
fn reparameterisation_backward_matches_the_reference() {
    common::assert_cases(&tables::reparam_kl_backward());
}

#[test]
fn l1_penalty_matches_the_reference() {
    common::assert_cases(&tables::l1_backward());
}

#[test]
fn kl_scores_match_the_reference() {
    common::assert_cases(&tables::kl_scores());
}
