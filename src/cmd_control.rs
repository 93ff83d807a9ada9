//! `patchscope revert|force|signal PATCH`: plan, confirm, write.
//!
//! On a terminal the plan (exact effect, exact writes) is shown and the
//! user confirms: `y` for revert and signal, the patch name typed for force.
//! Without a terminal `--yes` is required, so a script never blocks on a
//! prompt nobody sees.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use kmod_bridge::control::{ActionKind, ControlAction, ControlPlan};
use kmod_bridge::sanitize::{escape_controls, for_terminal};

use crate::cli::ControlArgs;

/// Run a control command.
pub fn run(kind: ActionKind, args: &ControlArgs) -> anyhow::Result<()> {
    let mut source = crate::open::open(&args.source)?;
    let action = ControlAction {
        kind,
        patch: args.patch.clone(),
    };
    let plan = source
        .plan(&action)
        .with_context(|| format!("{kind} of '{}' on {}", args.patch, source.location()))?;
    eprint!("{}", describe_plan(&plan));
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            bail!("not confirmed: stdin is not a terminal; add --yes to {kind} without asking");
        }
        if !confirm(&plan, &mut stdin.lock(), &mut std::io::stderr())? {
            bail!("cancelled: nothing was written");
        }
    }
    let outcome = source
        .execute(&plan)
        .with_context(|| format!("{kind} of '{}'", args.patch))?;
    println!("{}", escape_controls(&outcome.message));
    Ok(())
}

/// The confirmation text: effect, writes, warnings.
pub fn describe_plan(plan: &ControlPlan) -> String {
    let mut s = format!(
        "{} '{}': {}\n",
        plan.action.kind,
        for_terminal(&plan.action.patch),
        escape_controls(&plan.effect)
    );
    for w in &plan.writes {
        s.push_str(&format!("  will {}\n", escape_controls(&w.to_string())));
    }
    if plan.irreversible {
        s.push_str("  THIS CANNOT BE UNDONE.\n");
    }
    if let Some(a) = &plan.advice {
        s.push_str(&format!("  {}\n", escape_controls(a)));
    }
    s
}

/// Ask on `input`/`out`. Force needs the patch name typed; the rest `y`.
pub fn confirm(
    plan: &ControlPlan,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let force = plan.action.kind == ActionKind::Force;
    if force {
        write!(out, "Type the patch name to force it: ")?;
    } else {
        write!(out, "Proceed? [y/N] ")?;
    }
    out.flush()?;
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the confirmation")?;
    let answer = line.trim();
    Ok(if force {
        // The name as shown (control characters escaped) or as it is: a
        // hostile name holding an escape cannot be typed raw.
        answer == plan.action.patch || answer == for_terminal(&plan.action.patch)
    } else {
        matches!(answer, "y" | "Y" | "yes" | "YES" | "Yes")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmod_bridge::control::{PlannedWrite, Precondition};
    use kmod_bridge::model::PatchState;

    fn plan(kind: ActionKind) -> ControlPlan {
        ControlPlan {
            action: ControlAction {
                kind,
                patch: "lp_fix".into(),
            },
            writes: vec![PlannedWrite {
                target: "/sys/kernel/livepatch/lp_fix/force".into(),
                value: "1".into(),
            }],
            effect: "forces".into(),
            irreversible: kind == ActionKind::Force,
            advice: Some("plan a reboot".into()),
            precondition: Precondition {
                patch_state: PatchState::Patching,
                transition: None,
            },
        }
    }

    fn ask(kind: ActionKind, answer: &str) -> bool {
        let mut out = Vec::new();
        confirm(&plan(kind), &mut answer.as_bytes(), &mut out).unwrap()
    }

    #[test]
    fn revert_defaults_to_no() {
        assert!(ask(ActionKind::Revert, "y\n"));
        assert!(!ask(ActionKind::Revert, "\n"));
        assert!(!ask(ActionKind::Revert, "n\n"));
        assert!(!ask(ActionKind::Revert, ""));
    }

    #[test]
    fn force_needs_the_patch_name() {
        assert!(!ask(ActionKind::Force, "y\n"));
        assert!(!ask(ActionKind::Force, "lp_fi\n"));
        assert!(ask(ActionKind::Force, "lp_fix\n"));
    }

    #[test]
    fn force_of_a_hostile_name_takes_the_name_as_shown() {
        let mut p = plan(ActionKind::Force);
        p.action.patch = "lp\u{1b}[2Jx".into();
        let mut out = Vec::new();
        assert!(confirm(&p, &mut "lp\\x1b[2Jx\n".as_bytes(), &mut out).unwrap());
        assert!(confirm(&p, &mut "lp\u{1b}[2Jx\n".as_bytes(), &mut out).unwrap());
        assert!(!confirm(&p, &mut "lp[2Jx\n".as_bytes(), &mut out).unwrap());
        let text = describe_plan(&p);
        assert!(text.contains("force 'lp\\x1b[2Jx'"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }

    #[test]
    fn plan_text_names_the_write_and_the_risk() {
        let s = describe_plan(&plan(ActionKind::Force));
        assert!(
            s.contains("write 1 to /sys/kernel/livepatch/lp_fix/force"),
            "{s}"
        );
        assert!(s.contains("CANNOT BE UNDONE"), "{s}");
        assert!(s.contains("reboot"), "{s}");
    }
}
