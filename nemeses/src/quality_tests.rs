use super::*;

fn names(count: usize) -> Vec<NodeName> {
    (1..=count).map(|i| format!("n{i}")).collect()
}

#[test]
fn percentages_parse_print_and_refuse_what_is_not_one() {
    for (text, fraction, shown) in [
        ("20%", 0.2, "20%"),
        ("12.5%", 0.125, "12.5%"),
        ("0.01%", 0.0001, "0.01%"),
        ("100%", 1.0, "100%"),
        ("7.25%", 0.0725, "7.25%"),
    ] {
        let p: Percent = text.parse().unwrap();
        assert_eq!(p.fraction(), fraction, "{text}");
        assert_eq!(p.to_string(), shown);
    }
    assert_eq!("20%".parse::<Percent>().unwrap().probability(), "0.2000");
    assert_eq!("100%".parse::<Percent>().unwrap().probability(), "1.0000");
    for (text, why) in [
        ("120%", "out of range"),
        ("0%", "out of range"),
        ("-5%", "not a percentage such as"),
        ("20", "write it with %"),
        ("0.2", "write it with %"),
        ("abc%", "not a percentage such as"),
        ("1.234%", "not a percentage such as"),
        ("%", "not a percentage such as"),
        ("5.%", "not a percentage such as"),
        ("99999999999999999999999999%", "not a percentage such as"),
    ] {
        let e = text.parse::<Percent>().unwrap_err();
        assert!(e.contains(why), "{text}: {e}");
        assert!(!e.contains('\n'));
    }
}

#[test]
fn rates_parse_in_bits_and_refuse_bytes_and_nonsense() {
    for (text, bits, shown) in [
        ("1mbit", 1_000_000, "1mbit"),
        ("512kbit", 512_000, "512kbit"),
        ("1.5mbit", 1_500_000, "1500kbit"),
        ("10Mbit", 10_000_000, "10mbit"),
        ("8kbit", 8_000, "8kbit"),
        ("100gbit", 100_000_000_000, "100gbit"),
        ("12345bit", 12_345, "12345bit"),
    ] {
        let r: Rate = text.parse().unwrap();
        assert_eq!(r.bits(), bits, "{text}");
        assert_eq!(r.to_string(), shown);
        assert_eq!(r.to_string().parse::<Rate>(), Ok(r), "round trip");
    }
    assert_eq!("1mbit".parse::<Rate>().unwrap().tc(), "1000000bit");
    // 16 KiB floor; 20 ms of a fast link.
    assert_eq!("1mbit".parse::<Rate>().unwrap().burst_bytes(), 16 * 1024);
    assert_eq!("1gbit".parse::<Rate>().unwrap().burst_bytes(), 2_500_000);
    for (text, why) in [
        ("1mbps", "not a bandwidth"),
        ("1MB", "not a bandwidth"),
        ("fast", "not a bandwidth"),
        ("-1mbit", "not a bandwidth"),
        ("1kbit", "out of range"),
        ("0mbit", "out of range"),
        ("101gbit", "out of range"),
        ("99999999999999999999gbit", "out of range"),
    ] {
        let e = text.parse::<Rate>().unwrap_err();
        assert!(e.contains(why), "{text}: {e}");
    }
}

#[test]
fn percent_and_rate_are_journaled_as_written() {
    let p: Percent = "12.5%".parse().unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"12.5%\"");
    assert_eq!(serde_json::from_str::<Percent>("\"12.5%\"").unwrap(), p);
    assert!(serde_json::from_str::<Percent>("\"120%\"").is_err());
    let r: Rate = "2mbit".parse().unwrap();
    assert_eq!(serde_json::to_string(&r).unwrap(), "\"2mbit\"");
    assert_eq!(serde_json::from_str::<Rate>("\"2mbit\"").unwrap(), r);
}

#[test]
fn places_draw_their_nodes_from_the_rng() {
    let nodes = names(5);
    let mut rng = Rng::new(9);
    let mut same = Rng::new(9);
    let one = Place::One.links(&nodes, &mut rng).unwrap();
    assert_eq!(one, Links::On(vec![nodes[same.below(5)].clone()]));

    let minority = Place::Minority.links(&nodes, &mut rng).unwrap();
    let Links::On(picked) = &minority else {
        panic!("{minority:?}")
    };
    assert_eq!(picked.len(), 2, "a minority of 5 is 2");
    assert_eq!(
        Place::Minority
            .links(&names(3), &mut rng)
            .unwrap()
            .nodes()
            .len(),
        1
    );
    let e = Place::Minority.links(&names(2), &mut rng).unwrap_err();
    assert!(e.contains("at least 3 nodes"), "{e}");

    let before = rng.clone();
    assert_eq!(
        Place::All.links(&nodes, &mut rng).unwrap(),
        Links::On(nodes.clone())
    );
    assert_eq!(rng, before, "all draws nothing");

    let halves = Place::Shape(PartitionShape::Halves)
        .links(&nodes, &mut rng)
        .unwrap();
    assert_eq!(halves.to_string(), "between n1,n2 | n3,n4,n5");
}

#[test]
fn places_parse_and_unknown_ones_are_listed() {
    assert_eq!("one".parse::<Place>(), Ok(Place::One));
    assert_eq!("minority".parse::<Place>(), Ok(Place::Minority));
    assert_eq!(
        "one-way".parse::<Place>(),
        Ok(Place::Shape(PartitionShape::OneWay))
    );
    let e = "majority".parse::<Place>().unwrap_err();
    assert_eq!(
        e,
        "unknown place 'majority' (known: one, minority, all, or a partition shape's links: halves, random-halves, majorities-ring, bridge, one-way)"
    );
}

#[test]
fn links_on_nodes_are_every_link_into_and_out_of_them_once() {
    let nodes = names(4);
    let on = Links::On(vec!["n2".into()]);
    let into = on.into_each(&nodes);
    // n2 receives lossy from everyone; the others only from n2.
    assert_eq!(
        into.dropped_by("n2").collect::<Vec<_>>(),
        ["n1", "n3", "n4"]
    );
    assert_eq!(into.dropped_by("n1").collect::<Vec<_>>(), ["n2"]);
    assert_eq!(into.dropped_by("n3").collect::<Vec<_>>(), ["n2"]);
    let out = on.out_of_each(&nodes);
    assert_eq!(out["n2"].len(), 3);
    assert_eq!(out["n4"].iter().collect::<Vec<_>>(), ["n2"]);
    assert_eq!(on.to_string(), "on n2");

    // All: every ordered pair, each once.
    let all = Links::On(nodes.clone()).into_each(&nodes);
    let pairs: usize = all.iter().map(|(_, froms)| froms.len()).sum();
    assert_eq!(pairs, 4 * 3);
}

#[test]
fn links_of_a_one_way_shape_keep_their_direction() {
    let nodes = names(5);
    let grudge = crate::grudge::one_way(&nodes).unwrap();
    let links = Links::Between(grudge);
    assert_eq!(
        links.to_string(),
        "to n3 from n1,n2; to n4 from n1,n2; to n5 from n1,n2"
    );
    let out = links.out_of_each(&nodes);
    assert_eq!(
        out["n1"].iter().collect::<Vec<_>>(),
        ["n3", "n4", "n5"],
        "the rate of n1's packets to n3..n5 is limited at n1"
    );
    assert!(!out.contains_key("n3"), "n3's packets are not on a link");
    let json = serde_json::to_string(&links).unwrap();
    assert_eq!(serde_json::from_str::<Links>(&json).unwrap(), links);
    assert_eq!(
        serde_json::to_string(&Links::On(vec!["n1".into()])).unwrap(),
        r#"{"on":["n1"]}"#
    );
}
