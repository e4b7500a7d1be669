use super::*;
use crate::quality::{Percent, Place, Rate};

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
        "--nemesis: unknown fault \"explode\" (use partition-<shape>, kill, pause, stop, loss:<percent>, rate:<bandwidth>, delay:<delay>, duplicate:<percent>, reorder:<percent>, slow-node, flaky-node or none)"
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
    let loss: Percent = "20%".parse().unwrap();
    let rate: Rate = "1mbit".parse().unwrap();
    for place in [
        Place::One,
        Place::Minority,
        Place::All,
        Place::Shape(PartitionShape::Halves),
        Place::Shape(PartitionShape::OneWay),
    ] {
        specs.push(FaultSpec::Loss { place, loss });
        specs.push(FaultSpec::Rate { place, rate });
        for (shaping, parameter) in [
            (Shaping::Delay, "100ms~20ms/normal"),
            (Shaping::Duplicate, "5%"),
            (Shaping::Reorder, "25%"),
        ] {
            let netem = shaping.parse_parameter(parameter).unwrap();
            specs.push(FaultSpec::Shape {
                shaping,
                place,
                netem,
            });
        }
    }
    for shaping in [Shaping::SlowNode, Shaping::FlakyNode] {
        specs.push(FaultSpec::Shape {
            shaping,
            place: Place::One,
            netem: shaping.preset().unwrap(),
        });
    }
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

#[test]
fn one_nodes_file_damage_by_hand_draws_its_bytes_from_the_seed() {
    let bitflip = FaultSpec::parse("bitflip").unwrap();
    assert_eq!(
        bitflip.on("n2".into()),
        None,
        "on() has no seed to draw from"
    );
    let drawn = |seed| bitflip.on_drawn("n2".into(), &mut Rng::new(seed));
    assert_eq!(
        drawn(7),
        Some(Fault::DamageFiles {
            nodes: vec!["n2".into()],
            damage: Damage::Bitflip,
            seed: Rng::new(7).next_u64(),
        })
    );
    assert_eq!(drawn(7), drawn(7), "a seed replays");
    assert_ne!(drawn(7), drawn(8));
    let all = FaultSpec::parse("truncate-all").unwrap();
    assert_eq!(all.on_drawn("n2".into(), &mut Rng::new(7)), None);
    assert_eq!(
        FaultSpec::Pause.on_drawn("n2".into(), &mut Rng::new(7)),
        FaultSpec::Pause.on("n2".into())
    );
}

#[test]
fn network_quality_faults_parse_with_their_parameter_and_place() {
    let specs = FaultSpec::parse_list(
        "loss:20%,partition-one-way,loss-all:0.5%,rate-halves:2mbit,loss-one:1%",
    )
    .unwrap();
    assert_eq!(
        specs,
        vec![
            FaultSpec::Loss {
                place: Place::One,
                loss: "20%".parse().unwrap()
            },
            FaultSpec::Partition(PartitionShape::OneWay),
            FaultSpec::Loss {
                place: Place::All,
                loss: "0.5%".parse().unwrap()
            },
            FaultSpec::Rate {
                place: Place::Shape(PartitionShape::Halves),
                rate: "2mbit".parse().unwrap()
            },
            FaultSpec::Loss {
                place: Place::One,
                loss: "1%".parse().unwrap()
            },
        ]
    );
    assert_eq!(specs[0].name(), "loss:20%");
    assert_eq!(specs[3].name(), "rate-halves:2mbit");
    assert_eq!(specs[4].name(), "loss:1%", "one node is the default place");
}

#[test]
fn bad_network_quality_parameters_are_one_line_each() {
    for (item, expected) in [
        ("loss:120%", "--nemesis \"loss:120%\": 120% is out of range: a probability is more than 0% and at most 100%"),
        ("loss:-5%", "--nemesis \"loss:-5%\": \"-5%\" is not a percentage such as 20% or 0.5%"),
        ("loss:20", "--nemesis \"loss:20\": \"20\" is not a percentage: write it with %, e.g. 20%"),
        ("loss", "--nemesis \"loss\": loss needs a parameter, e.g. loss:20%"),
        ("loss:", "--nemesis \"loss:\": loss needs a parameter, e.g. loss:20%"),
        ("rate", "--nemesis \"rate\": rate needs a parameter, e.g. rate:1mbit"),
        ("rate:1MB", "--nemesis \"rate:1MB\": \"1MB\" is not a bandwidth: write bits per second, e.g. 1mbit (units: kbit, mbit, gbit)"),
        ("loss-majority:20%", "--nemesis \"loss-majority:20%\": unknown place 'majority'"),
        ("lossall:20%", "--nemesis: unknown fault \"lossall:20%\""),
        ("kill:3", "--nemesis \"kill:3\": kill takes no parameter"),
        ("partition-halves:3", "--nemesis \"partition-halves:3\": a partition takes no parameter"),
        ("loss:20%:50%", "loss in bursts is delay:1ms/loss=20%/correlation=50%"),
        ("delay:-5ms", "--nemesis \"delay:-5ms\": -5ms: a delay cannot be negative"),
        ("delay:100ms~200ms", "is more than the delay (100ms)"),
        ("delay", "--nemesis \"delay\": delay needs a parameter, e.g. delay:100ms~20ms"),
        ("delay:loss=5%", "delay needs a delay first"),
        ("duplicate-all:120%", "120% is out of range"),
        ("duplicate:100ms", "takes the share of packets first"),
        ("reorder", "reorder needs a parameter, e.g. reorder:25%"),
        ("delay-majority:10ms", "unknown place 'majority'"),
        ("slow-node:1ms", "slow-node takes no parameter"),
    ] {
        let e = FaultSpec::parse_list(&format!("kill,{item}")).unwrap_err();
        assert!(e.starts_with(expected) || e.contains(expected), "{item}: {e}");
        assert!(!e.contains('\n'), "{item}: {e}");
    }
}

#[test]
fn a_loss_is_drawn_journaled_and_named_like_every_fault() {
    let nodes: Vec<NodeName> = (1..=5).map(|i| format!("n{i}")).collect();
    let spec = FaultSpec::parse("loss:20%").unwrap();
    let mut rng = Rng::new(3);
    let loss = spec.instantiate(&nodes, &mut rng).unwrap();
    // The same single draw as kill: one `below(nodes)`.
    let mut same = Rng::new(3);
    let node = nodes[same.below(nodes.len())].clone();
    assert_eq!(rng, same);
    assert_eq!(loss.verb(), "loss");
    assert_eq!(loss.target(), format!("20% on {node}"));
    assert_eq!(loss.to_string(), format!("loss 20% on {node}"));
    let json = serde_json::to_value(&loss).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "loss", "links": {"on": [node]}, "loss": "20%"})
    );
    assert_eq!(serde_json::from_value::<Fault>(json).unwrap(), loss);

    let rate = FaultSpec::parse("rate-halves:1mbit")
        .unwrap()
        .instantiate(&nodes, &mut rng)
        .unwrap();
    assert_eq!(rate.target(), "1mbit between n1,n2 | n3,n4,n5");
    // One slot each: a loss replaces a loss, not a partition or a rate.
    let partition = FaultSpec::Partition(PartitionShape::Halves)
        .instantiate(&nodes, &mut rng)
        .unwrap();
    assert!(loss.same_slot(&loss.clone()));
    assert!(!loss.same_slot(&rate) && !loss.same_slot(&partition));
    assert!(rate.same_slot(&rate.clone()));

    let e = FaultSpec::parse("loss-minority:20%")
        .unwrap()
        .instantiate(&nodes[..2], &mut rng)
        .unwrap_err();
    assert_eq!(
        e,
        "loss-minority:20%: minority needs at least 3 nodes, got 2 (n1, n2)"
    );
}

#[test]
fn one_way_is_a_partition_shape_in_force_one_direction() {
    let nodes: Vec<NodeName> = (1..=3).map(|i| format!("n{i}")).collect();
    let fault = FaultSpec::parse("partition-one-way")
        .unwrap()
        .instantiate(&nodes, &mut Rng::new(1))
        .unwrap();
    let Fault::Partition { grudge } = &fault else {
        panic!("{fault:?}")
    };
    let deaf: Vec<&NodeName> = nodes
        .iter()
        .filter(|n| grudge.dropped_by(n).next().is_some())
        .collect();
    assert_eq!(deaf.len(), 2, "{grudge}");
    assert_eq!(fault.verb(), "partition");
    assert!(fault.target().contains(" drops "), "{}", fault.target());
}

#[test]
fn disk_faults_parse_draw_journal_and_refuse_bad_parameters() {
    use crate::storage::{Crowd, FlakeyMode};
    let nodes: Vec<NodeName> = (1..=5).map(|i| format!("n{i}")).collect();
    let specs = FaultSpec::parse_list(
        "kill-lose-unsynced,kill-lose-unsynced-minority,kill-lose-unsynced-all,flakey:error-writes,slow-disk:50ms",
    )
    .unwrap();
    assert_eq!(specs[0], FaultSpec::KillLoseUnsynced(Crowd::One));
    assert_eq!(specs[2], FaultSpec::KillLoseUnsynced(Crowd::All));
    assert_eq!(specs[4], FaultSpec::SlowDisk { delay_ms: 50 });
    assert!(specs.iter().all(FaultSpec::needs_disk));
    assert!(!FaultSpec::Kill.needs_disk());
    for spec in &specs {
        assert_eq!(&FaultSpec::parse(&spec.name()).unwrap(), spec, "{spec}");
    }
    let mut rng = Rng::new(3);
    let all = specs[2].instantiate(&nodes, &mut rng).unwrap();
    assert_eq!(all.target(), "n1,n2,n3,n4,n5");
    let minority = specs[1].instantiate(&nodes, &mut rng).unwrap();
    assert!(
        all.same_slot(&minority),
        "the same nodes cannot be killed twice"
    );
    let flakey = specs[3].instantiate(&nodes, &mut rng).unwrap();
    let json = serde_json::to_value(&flakey).unwrap();
    assert_eq!(json["kind"], "flakey");
    assert_eq!(json["flakey"]["mode"], "error-writes");
    assert_eq!(serde_json::from_value::<Fault>(json).unwrap(), flakey);
    let Fault::Flakey { node, flakey: f } = &flakey else {
        panic!("{flakey:?}")
    };
    assert_eq!(f.mode, FlakeyMode::ErrorWrites);
    assert_eq!(flakey.target(), format!("error-writes on {node}"));
    let slow = FaultSpec::SlowDisk { delay_ms: 50 }
        .on(node.clone())
        .unwrap();
    assert!(slow.same_slot(&flakey), "one disk fault per node at a time");

    for (item, says) in [
        (
            "flakey",
            "flakey needs a parameter, e.g. flakey:error-writes",
        ),
        (
            "flakey:error_writes",
            "unknown flakey mode \"error_writes\"",
        ),
        ("slow-disk:-5ms", "is not a delay such as 100ms"),
        (
            "kill-lose-unsynced:1",
            "kill-lose-unsynced takes no parameter",
        ),
        (
            "kill-lose-unsynced-most",
            "use kill-lose-unsynced, kill-lose-unsynced-minority",
        ),
    ] {
        let e = FaultSpec::parse(item).unwrap_err();
        assert!(e.contains(says), "{item}: {e}");
    }
}

#[test]
fn file_faults_parse_and_carry_their_seed_into_the_journal() {
    use crate::storage::{Crowd, Damage};
    let nodes: Vec<NodeName> = (1..=5).map(|i| format!("n{i}")).collect();
    let spec = FaultSpec::parse("bitflip-minority").unwrap();
    assert_eq!(
        spec,
        FaultSpec::DamageFiles {
            damage: Damage::Bitflip,
            crowd: Crowd::Minority
        }
    );
    assert!(spec.needs_disk());
    assert_eq!(FaultSpec::parse("truncate").unwrap().name(), "truncate");
    let mut rng = Rng::new(4);
    let fault = spec.instantiate(&nodes, &mut rng).unwrap();
    let Fault::DamageFiles {
        nodes: hit, seed, ..
    } = &fault
    else {
        panic!("{fault:?}")
    };
    assert_eq!(hit.len(), 2);
    let mut same = Rng::new(4);
    let again = spec.instantiate(&nodes, &mut same).unwrap();
    assert_eq!(
        fault, again,
        "the seed draws the nodes and the damage's seed"
    );
    let json = serde_json::to_value(&fault).unwrap();
    assert_eq!(json["kind"], "damage-files");
    assert_eq!(json["damage"], "bitflip");
    assert_eq!(json["seed"], *seed);
    assert_eq!(serde_json::from_value::<Fault>(json).unwrap(), fault);
    assert_eq!(fault.verb(), "bitflip");
    let kill = FaultSpec::KillLoseUnsynced(Crowd::All)
        .instantiate(&nodes, &mut rng)
        .unwrap();
    assert!(
        fault.same_slot(&kill),
        "a crashed node cannot be crashed again"
    );
    assert!(FaultSpec::parse("bitflip:3")
        .unwrap_err()
        .contains("bitflip takes no parameter"));
}

#[test]
fn rollback_parses_draws_its_nodes_and_seed_and_keeps_a_slot_of_its_own() {
    use crate::storage::Crowd;
    let nodes: Vec<NodeName> = (1..=5).map(|i| format!("n{i}")).collect();
    for (item, crowd) in [
        ("rollback", Crowd::One),
        ("rollback-minority", Crowd::Minority),
        ("rollback-all", Crowd::All),
    ] {
        let spec = FaultSpec::parse(item).unwrap();
        assert_eq!(spec, FaultSpec::Rollback(crowd));
        assert_eq!(spec.name(), item);
        assert_eq!(spec.verb(), "rollback");
        assert!(spec.needs_disk());
    }
    assert!(FaultSpec::listing().contains("rollback[-minority|-all]"));
    let minority = FaultSpec::Rollback(Crowd::Minority);
    let fault = minority.instantiate(&nodes, &mut Rng::new(4)).unwrap();
    assert_eq!(
        fault,
        minority.instantiate(&nodes, &mut Rng::new(4)).unwrap()
    );
    let Fault::Rollback { nodes: hit, seed } = &fault else {
        panic!("{fault:?}")
    };
    assert_eq!(hit.len(), 2, "a minority of five");
    let json = serde_json::to_value(&fault).unwrap();
    assert_eq!(json["kind"], "rollback");
    assert_eq!(json["seed"], *seed);
    assert_eq!(serde_json::from_value::<Fault>(json).unwrap(), fault);
    assert_eq!(fault.to_string(), format!("rollback {}", hit.join(",")));
    assert!(fault.ends_apart());
    assert!(!Fault::Kill { node: "n1".into() }.ends_apart());

    // By hand on one node, with the seed drawing the chunks.
    let one = FaultSpec::Rollback(Crowd::One);
    assert_eq!(one.on("n2".into()), None, "on() has no seed to draw from");
    let drawn = |seed| one.on_drawn("n2".into(), &mut Rng::new(seed));
    assert_eq!(
        drawn(7),
        Some(Fault::Rollback {
            nodes: vec!["n2".into()],
            seed: Rng::new(7).next_u64(),
        })
    );
    assert_ne!(drawn(7), drawn(8));
    assert_eq!(minority.on_drawn("n2".into(), &mut Rng::new(7)), None);

    // A kill of the same node must not hide the rollback from a heal.
    let on_n2 = drawn(7).unwrap();
    let kill = FaultSpec::Kill.on("n2".into()).unwrap();
    let damage = FaultSpec::parse("bitflip")
        .unwrap()
        .on_drawn("n2".into(), &mut Rng::new(1))
        .unwrap();
    assert!(!on_n2.same_slot(&kill) && !on_n2.same_slot(&damage) && !damage.same_slot(&on_n2));
    assert!(on_n2.same_slot(&drawn(8).unwrap()), "one stash per node");
    assert!(!on_n2.same_slot(&fault), "other nodes, other stashes");

    let e = FaultSpec::parse("rollback:3").unwrap_err();
    assert_eq!(e, "--nemesis \"rollback:3\": rollback takes no parameter");
    assert!(FaultSpec::parse("rollback-most").is_err());
}
