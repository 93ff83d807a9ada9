//! The screenshot generator runs on the simulator and draws what the
//! README promises: a stalled transition, a blocking frame, the force
//! confirmation, the keys.

#[test]
fn screenshots_are_generated_from_the_simulator() {
    kmod_bridge::audit::capture();
    let dir = std::env::temp_dir().join(format!("patchscope-shots-{}", std::process::id()));
    let files = patchscope_ui::screenshots::generate(&dir).unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(files.len(), 6);
    for f in &files {
        let svg = std::fs::read_to_string(f).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains('\u{1b}'), "raw escape in {}", f.display());
    }
    assert!(read("overview-stalled.svg").contains("STALLED"));
    assert!(read("blocked-thread-stack.svg").contains("◀ blocking"));
    let force = read("force-confirmation.svg");
    assert!(force.contains("IRREVERSIBLE"));
    assert!(force.contains("kern.livepatch.transition.force"));
    assert!(read("help.svg").contains("Ctrl-C"));
    assert!(read("after-revert.svg").contains("IDLE"));
    let _ = std::fs::remove_dir_all(&dir);
}
