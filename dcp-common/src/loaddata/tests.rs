use super::*;

const ROOT: &str = "/home/ubuntu/bucket/";

const CSV: &str =
    "FileName_OrigBlue,FileName_OrigGreen,Metadata_Position,PathName_OrigBlue,PathName_OrigGreen
01_POS002_D.TIF,01_POS002_F.TIF,002,/home/ubuntu/bucket/demo/images,/home/ubuntu/bucket/demo/images/
01_POS076_D.TIF,01_POS076_F.TIF,076,/home/ubuntu/bucket/demo/images,/home/ubuntu/bucket/demo/images/
01_POS000_D.TIF,01_POS000_F.TIF,000,/home/ubuntu/bucket/demo/images,/home/ubuntu/bucket/demo/images/
";

fn group(k: &str, v: &str) -> Vec<(String, String)> {
    vec![(k.to_owned(), v.to_owned())]
}

fn buckets() -> Buckets<'static> {
    Buckets {
        mount_root: ROOT,
        named: [
            ("SOURCE_BUCKET", "src"),
            ("DESTINATION_BUCKET", "/runs/dst"),
            ("WORKSPACE_BUCKET", "src"),
        ],
    }
}

fn object(bucket: &str, key: &str) -> Object {
    Object {
        bucket: bucket.into(),
        key: key.into(),
    }
}

/// Every object at `/local/<bucket>/<key>`; the written CSV's lines.
fn write_whole(data: &LoadData, rows: &GroupRows<'_>) -> Vec<String> {
    let located: HashMap<Object, PathBuf> = rows
        .objects(&buckets())
        .unwrap()
        .into_iter()
        .map(|o| {
            let path = Path::new("/local")
                .join(o.bucket.trim_start_matches('/'))
                .join(&o.key);
            (o, path)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("load_data.csv");
    rows.write(
        &out,
        &buckets(),
        &located,
        Path::new("/scratch/not-fetched"),
    )
    .unwrap();
    let text = std::fs::read_to_string(out).unwrap();
    assert_eq!(text.lines().count(), data.len() + 1, "every row is written");
    text.lines().map(str::to_owned).collect()
}

#[test]
fn padded_groups_select_the_rows_cellprofiler_runs_and_pass_its_value() {
    let data = LoadData::parse(CSV.as_bytes()).unwrap();
    for value in ["2", "02", "002", "0002", "+2", "2.0"] {
        let rows = data.select(&group("Metadata_Position", value)).unwrap();
        assert_eq!(rows.argument(), "Metadata_Position=2", "{value}");
        assert_eq!(rows.len(), 1);
    }
    for value in ["0", "00", "000"] {
        let rows = data.select(&group("Metadata_Position", value)).unwrap();
        assert_eq!(rows.argument(), "Metadata_Position=0", "{value}");
    }
    // A float column is compared as Python's str(float): `2.0`.
    let floats = "Metadata_Site,FileName_A\n002,a.tif\n2.5,b.tif\n";
    let data = LoadData::parse(floats.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Site", "2")).unwrap();
    assert_eq!(rows.argument(), "Metadata_Site=2.0");
}

#[test]
fn text_columns_are_compared_as_text_with_a_unique_loose_match() {
    let csv = "Metadata_Plate,Metadata_Column,Metadata_Well,FileName_A\n\
               001,02,A03 ,a.tif\nP3,2,B01,b.tif\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    // The plate column is text (`P3`): `1` stands for the one plate `001`.
    let rows = data.select(&group("Metadata_Plate", "1")).unwrap();
    assert_eq!(rows.argument(), "Metadata_Plate=001");
    // Metadata_Column is always text to CellProfiler: `02` and `2` are two groups.
    let rows = data.select(&group("Metadata_Column", "02")).unwrap();
    assert_eq!(rows.argument(), "Metadata_Column=02");
    let err = data.select(&group("Metadata_Column", "002")).err().unwrap();
    assert!(matches!(err, LoadDataError::Ambiguous { .. }), "{err}");
    assert!(err.to_string().contains("(`02`, `2`)"), "{err}");
    // A cell with a trailing space is found, and CellProfiler is given the cell's text.
    let rows = data.select(&group("Metadata_Well", "A03")).unwrap();
    assert_eq!(rows.argument(), "Metadata_Well=A03 ");
}

#[test]
fn refuses_groups_the_csv_cannot_select_quoting_values() {
    let data = LoadData::parse(CSV.as_bytes()).unwrap();
    let err = data.select(&group("Metadata_Position", "3")).err().unwrap();
    assert_eq!(
        err.to_string(),
        "no row of the load-data CSV matches the group: no row has `Metadata_Position` = `3` \
         (CellProfiler reads the column as integers)"
    );
    assert!(matches!(
        data.select(&group("Metadata_Plate", "P1")),
        Err(LoadDataError::NoColumn(_))
    ));
    let csv = "Metadata_Well,FileName_A\n\"A,1\",a.tif\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    assert!(matches!(
        data.select(&group("Metadata_Well", "A,1")),
        Err(LoadDataError::GroupArgument { .. })
    ));
}

#[test]
fn writes_every_row_with_only_the_groups_images_readable() {
    let data = LoadData::parse(CSV.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Position", "02")).unwrap();
    assert_eq!(
        rows.objects(&buckets()).unwrap(),
        [
            object("src", "demo/images/01_POS002_D.TIF"),
            object("src", "demo/images/01_POS002_F.TIF")
        ]
    );
    let lines = write_whole(&data, &rows);
    assert_eq!(
        lines[1],
        "01_POS002_D.TIF,01_POS002_F.TIF,002,/local/src/demo/images,/local/src/demo/images"
    );
    assert_eq!(
        lines[2],
        "01_POS076_D.TIF,01_POS076_F.TIF,076,/scratch/not-fetched,/scratch/not-fetched"
    );
}

#[test]
fn maps_every_column_family() {
    let csv = "Metadata_Site,URL_DNA,URL_RNA,Image_PathName_Mito,Image_FileName_Mito,\
               ObjectsPathName_Cells,ObjectsFileName_Cells,PathName_IllumDNA,FileName_IllumDNA,\
               URL_IllumRNA\n\
               1,file:///home/ubuntu/bucket/p/a%20dna.tif,s3://src/p/a+rna.tif,\
               /home/ubuntu/bucket/p/,a_mito.tif,/home/ubuntu/bucket/seg,a_cells.png,\
               /home/ubuntu/bucket/illum,P1_IllumDNA.npy,s3://dst/illum/P1_IllumRNA.npy\n\
               2,file:///home/ubuntu/bucket/p/b.tif,s3://src/p/b.tif,/elsewhere,b_mito.tif,\
               /x,b.png,/y,c.npy,s3://other/c.npy\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Site", "1")).unwrap();
    assert_eq!(
        rows.objects(&buckets()).unwrap(),
        [
            object("src", "p/a dna.tif"),
            object("src", "p/a rna.tif"),
            object("src", "p/a_mito.tif"),
            object("src", "seg/a_cells.png"),
            object("src", "illum/P1_IllumDNA.npy"),
            object("/runs/dst", "illum/P1_IllumRNA.npy"),
        ]
    );
    let lines = write_whole(&data, &rows);
    assert_eq!(
        lines[1],
        "1,file:///local/src/p/a%20dna.tif,file:///local/src/p/a%20rna.tif,/local/src/p,\
         a_mito.tif,/local/src/seg,a_cells.png,/local/src/illum,P1_IllumDNA.npy,\
         file:///local/runs/dst/illum/P1_IllumRNA.npy"
    );
    let absent = "file:///scratch/not-fetched/image";
    assert_eq!(
        lines[2],
        format!(
            "2,{absent},{absent},/scratch/not-fetched,b_mito.tif,/scratch/not-fetched,b.png,\
             /scratch/not-fetched,c.npy,{absent}"
        )
    );
}

#[test]
fn refuses_a_group_row_naming_a_file_outside_the_runs_buckets() {
    let csv = "Metadata_Site,PathName_DNA,FileName_DNA,URL_RNA\n\
               1,/home/ubuntu/bucket/p,a.tif,s3://src/p/a.tif\n\
               2,/etc,passwd,s3://src/p/b.tif\n\
               3,/home/ubuntu/bucket/p,c.tif,s3://other-lab/c.tif\n\
               4,images,d.tif,s3://src/p/d.tif\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    assert!(
        data.select(&group("Metadata_Site", "1"))
            .unwrap()
            .objects(&buckets())
            .is_ok()
    );
    let refusal = |site: &str| {
        let rows = data.select(&group("Metadata_Site", site)).unwrap();
        rows.objects(&buckets()).unwrap_err().to_string()
    };
    assert_eq!(
        refusal("2"),
        "line 3: PathName_DNA: `/etc/passwd` is not under MOUNT_ROOT `/home/ubuntu/bucket/`, the \
         setting that maps paths to SOURCE_BUCKET `src`; a run reads nothing outside its buckets"
    );
    assert!(
        refusal("3")
            .starts_with("line 4: URL_RNA: `s3://other-lab/c.tif` names the bucket `other-lab`"),
        "{}",
        refusal("3")
    );
    assert!(refusal("4").contains("line 5: PathName_DNA: `images/d.tif` is not an absolute path"));
}

#[test]
fn file_lists_map_urls_and_paths_and_refuse_others() {
    let text =
        "/home/ubuntu/bucket/i/a.tif\n\n  s3://src/i/b.tif \nfile:///home/ubuntu/bucket/i/c.tif\n";
    let objects = file_list_objects(text, &buckets()).unwrap();
    assert_eq!(
        objects,
        [
            object("src", "i/a.tif"),
            object("src", "i/b.tif"),
            object("src", "i/c.tif")
        ]
    );
    let located = objects
        .iter()
        .map(|o| (o.clone(), Path::new("/local").join(&o.key)))
        .collect();
    assert_eq!(
        write_file_list(&objects, &located),
        "/local/i/a.tif\n/local/i/b.tif\n/local/i/c.tif\n"
    );
    let err = file_list_objects("/home/ubuntu/bucket/i/a.tif\n/tmp/b.tif\n", &buckets())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("line 2: file list: `/tmp/b.tif` is not under MOUNT_ROOT"),
        "{err}"
    );
}

#[test]
fn the_cache_parses_a_file_again_only_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load_data.csv");
    std::fs::write(&path, CSV).unwrap();
    let cache = LoadDataCache::default();
    let first = cache.get(&path).unwrap();
    assert!(Arc::ptr_eq(&first, &cache.get(&path).unwrap()));
    std::fs::write(
        &path,
        format!("{CSV}01_POS218_D.TIF,01_POS218_F.TIF,218,/x,/x\n"),
    )
    .unwrap();
    let changed = cache.get(&path).unwrap();
    assert!(!Arc::ptr_eq(&first, &changed));
    assert!(changed.select(&group("Metadata_Position", "218")).is_ok());
}

#[test]
fn locate_keeps_every_path_and_url_inside_the_runs_buckets() {
    let b = buckets();
    assert_eq!(
        b.locate("/home/ubuntu/bucket/demo/images/a.tif"),
        Ok(object("src", "demo/images/a.tif"))
    );
    assert_eq!(
        b.locate("s3://src/demo/a.tif"),
        Ok(object("src", "demo/a.tif"))
    );
    assert_eq!(
        b.locate("/home/ubuntu/bucket/demo/./img/../a.tif"),
        Ok(object("src", "demo/a.tif")),
        "resolved as the mounted bucket resolves it"
    );
    for outside in [
        "/home/ubuntu/other/a.tif",
        "/home/ubuntu/bucketeer/a.tif",
        "/home/ubuntu/bucket/../secret",
        "/home/ubuntu/bucket/demo/../../secret",
        "/home/ubuntu/bucket/",
        "file:///home/ubuntu/bucket/%2e%2e/secret",
        "s3://other/demo/a.tif",
        "s3://src/",
        "https://example.org/a.tif",
        "C:\\data\\a.tif",
    ] {
        assert!(b.locate(outside).is_err(), "{outside}");
    }
}

#[test]
fn rows_longer_than_the_header_are_cut_and_shorter_ones_refused_as_cellprofiler_does() {
    // LoadData (`prepare_run`) drops the cells past the header's (an Excel export's
    // trailing comma) and refuses a row with fewer, naming its line.
    let csv = "Metadata_Plate,FileName_A,PathName_A\r\n\
               P1,a.tif,/home/ubuntu/bucket/i,\r\n\
               P2,b.tif,/home/ubuntu/bucket/i,,\r\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Plate", "P1")).unwrap();
    let lines = write_whole(&data, &rows);
    assert_eq!(lines[1], "P1,a.tif,/local/src/i");
    assert_eq!(lines[2], "P2,b.tif,/scratch/not-fetched");
    let csv = "Metadata_Plate,FileName_A,PathName_A\nP1,a.tif,/home/ubuntu/bucket/i\nP2,b.tif\n";
    let err = LoadData::parse(csv.as_bytes()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "line 3: has 2 cells, but the header has 3 (CellProfiler's LoadData refuses such a row)"
    );
}

#[test]
fn a_well_made_from_row_and_column_selects_as_cellprofilers_synthetic_well() {
    // LoadData (`prepare_run`) adds Metadata_Well = row + column when a CSV has a well row
    // and a well column but no well; a group by Metadata_Well selects by it.
    let csv = "Metadata_Plate,Metadata_Row,Metadata_Col,FileName_A,PathName_A\n\
               P1,A,01,a.tif,/home/ubuntu/bucket/i\n\
               P1,B,2,b.tif,/home/ubuntu/bucket/i\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    let pairs = vec![
        ("Metadata_Plate".to_owned(), "P1".to_owned()),
        ("Metadata_Well".to_owned(), "A01".to_owned()),
    ];
    let rows = data.select(&pairs).unwrap();
    assert_eq!(rows.argument(), "Metadata_Plate=P1,Metadata_Well=A01");
    assert_eq!(
        rows.objects(&buckets()).unwrap(),
        [object("src", "i/a.tif")]
    );
    let rows = data.select(&group("Metadata_Well", "B2")).unwrap();
    assert_eq!(rows.len(), 1);
    // CellProfiler makes the well itself: the CSV is written with its own columns only.
    let lines = write_whole(&data, &rows);
    assert_eq!(lines[2], "P1,B,2,b.tif,/local/src/i");
    let csv = "Metadata_Well_Row,Metadata_WellColumn,FileName_A\nC,03,c.tif\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Well", "C03")).unwrap();
    assert_eq!(rows.argument(), "Metadata_Well=C03");
    // A CSV with its own well column (any case) gets no synthetic one.
    let csv = "Metadata_well,Metadata_Row,Metadata_Col,FileName_A\nX,A,01,a.tif\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    assert!(matches!(
        data.select(&group("Metadata_Well", "A01")),
        Err(LoadDataError::NoColumn(_))
    ));
}

#[test]
fn a_file_list_saved_with_a_byte_order_mark_is_read_as_the_csv_reader_reads_one() {
    // Windows editors start a UTF-8 file with U+FEFF; the CSV reader drops it, and so
    // does the file-list reader, rather than refusing an invisible first character.
    let text = "\u{feff}/home/ubuntu/bucket/i/a.tif\r\n/home/ubuntu/bucket/i/b.tif\r\n";
    let objects = file_list_objects(text, &buckets()).unwrap();
    assert_eq!(
        objects,
        [object("src", "i/a.tif"), object("src", "i/b.tif")]
    );
    let csv = "\u{feff}Metadata_Plate,FileName_A,PathName_A\r\nP1,a.tif,/home/ubuntu/bucket/i\r\n";
    let data = LoadData::parse(csv.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Plate", "P1")).unwrap();
    assert_eq!(
        write_whole(&data, &rows)[0],
        "Metadata_Plate,FileName_A,PathName_A"
    );
}

#[test]
fn rows_know_their_lines_in_crlf_files_too() {
    // The csv crate starts a CRLF file's record at the `\n` ending the line before, one
    // line early; Excel and Windows tools save CRLF.
    for text in [
        "a,b\n1,2\n3,4\n",
        "a,b\r\n1,2\r\n3,4\r\n",
        "\u{feff}a,b\r\n\r\n1,2\r\n3,4",
    ] {
        let data = LoadData::parse(text.as_bytes()).unwrap();
        let lines: Vec<u64> = data
            .rows
            .iter()
            .map(|r| r.position().unwrap().line())
            .collect();
        let first = if text.contains("\r\n\r\n") { 3 } else { 2 };
        assert_eq!(lines, [first, first + 1], "{text:?}");
    }
    let short = LoadData::parse(b"a,b\r\n1,2\r\n3\r\n")
        .err()
        .unwrap()
        .to_string();
    assert!(short.starts_with("line 3: has 1 cells"), "{short}");
}
