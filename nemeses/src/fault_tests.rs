use super::*;

#[test]
fn faults_parse_and_unknown_ones_are_named() {
    assert_eq!(
        FaultSpec::parse_list("partition-halves, kill,pause,none,stop").unwrap(),
        vec![
            FaultSpec::Partition(PartitionShape::Halves),
            FaultSpec::Kill,
            FaultSpec::Pause,
            FaultSpec::Stop
        ]
    );
    assert!(FaultSpec::parse_list("none").unwrap().is_empty());
    let e = FaultSpec::parse_list("kill,explode").unwrap_err();
    assert_eq!(
        e,
        "--nemesis: unknown fault \"explode\" (use partition-<shape>, kill, pause, stop or none)"
    );
    let e = FaultSpec::parse_list("partition-sideways").unwrap_err();
    assert!(e.starts_with("unknown partition shape 'sideways'"), "{e}");
}

#[test]
fn empty_items_are_errors() {
    for text in ["partition-halves,,kill", "kill,", ",kill", ""] {
        let e = FaultSpec::parse_list(text).unwrap_err();
        assert!(e.contains("is empty"), "{text:?}: {e}");
    }
}

#[test]
fn every_name_the_help_lists_parses_back_to_its_fault() {
    let mut specs: Vec<FaultSpec> = PartitionShape::ALL
        .into_iter()
        .map(FaultSpec::Partition)
        .collect();
    specs.extend(FaultSpec::ON_ONE_NODE);
    for spec in specs {
        assert_eq!(FaultSpec::parse(&spec.name()), Ok(spec), "{spec}");
        let listing = FaultSpec::listing();
        let named = match spec {
            FaultSpec::Partition(shape) => shape.name(),
            other => other.verb(),
        };
        assert!(listing.contains(named), "{listing} lacks {named}");
    }
}

#[test]
fn an_instance_takes_its_nodes_from_the_rng_and_names_its_target() {
    let nodes: Vec<NodeName> = (1..=5).map(|i| format!("n{i}")).collect();
    let mut rng = Rng::new(3);
    let kill = FaultSpec::Kill.instantiate(&nodes, &mut rng).unwrap();
    // The same draw the schedule makes: one `below(nodes)`.
    let mut same = Rng::new(3);
    let node = nodes[same.below(nodes.len())].clone();
    assert_eq!(kill, Fault::Kill { node: node.clone() });
    assert_eq!((kill.verb(), kill.target()), ("kill", node));
    assert_eq!(rng, same, "one draw, no more");

    let halves = FaultSpec::Partition(PartitionShape::Halves)
        .instantiate(&nodes, &mut rng)
        .unwrap();
    assert_eq!(halves.target(), "n1,n2 | n3,n4,n5");
    assert_eq!(halves.verb(), "partition");

    let e = FaultSpec::Partition(PartitionShape::Bridge)
        .instantiate(&nodes[..2], &mut rng)
        .unwrap_err();
    assert!(e.contains("bridge"), "{e}");
    assert!(FaultSpec::Pause.instantiate(&[], &mut rng).is_err());
}

#[test]
fn a_fault_by_hand_is_on_the_node_named() {
    assert_eq!(
        FaultSpec::Pause.on("n2".into()),
        Some(Fault::Pause { node: "n2".into() })
    );
    assert_eq!(
        FaultSpec::Partition(PartitionShape::One).on("n2".into()),
        None
    );
}
