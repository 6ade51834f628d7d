/**
 * DICOM PS3.15 Annex E, Table E.1-1 "Application Level Confidentiality Profile Attributes", Basic Profile column,
 * as data. Each row: tag (GGGGEEEE), VR (used to encode replacement values in implicit-VR files), the Basic Profile
 * action, the attribute name.
 *
 * Action codes (PS3.15 E.3.1):
 *   D  replace with a non-zero-length dummy value consistent with the VR
 *   Z  replace with a zero-length value (or a dummy)
 *   X  remove
 *   K  keep (sequences are still processed recursively)
 *   C  clean (replace with values of similar meaning known not to identify): treated as D here
 *   U  replace with a non-zero-length UID that is internally consistent within the set of instances
 *   combinations (X/Z, X/D, Z/D, X/Z/D, X/Z/U*): resolved by `resolveAction` below.
 *
 * Beyond the table (E.3.3, E.3.4 and the profile's rules): all private data elements (odd groups, including private
 * creators) are removed, Curve Data groups (50xx) and overlay groups (60xx) are removed, group length elements
 * (gggg,0000) outside the file meta are dropped (they would be wrong after editing) and sequences are processed
 * recursively with the same table.
 *
 * Deliberate deviations, documented in the DeidentificationMethod we write:
 *   (0010,0040) Patient's Sex (Z) and (0010,1010) Patient's Age (X) are KEPT, as the VinDr-CXR release did (a subset
 *   of the Retain Patient Characteristics Option, code 113108).
 */
export type BasicAction = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'X/Z' | 'X/D' | 'Z/D' | 'X/Z/D' | 'X/Z/U*';
export type ResolvedAction = 'D' | 'Z' | 'X' | 'K' | 'U';

export interface ProfileRow {
  tag: string; // dicom-parser form: 'xggggeeee' (lowercase hex)
  vr: string;
  action: BasicAction;
  name: string;
}

// [tag, VR, Basic Profile action, name]
const TABLE_E_1_1: ReadonlyArray<readonly [string, string, BasicAction, string]> = [
  ['00080014', 'UI', 'U', 'Instance Creator UID'],
  ['00080015', 'DT', 'X', 'Instance Coercion DateTime'],
  ['00080012', 'DA', 'X/D', 'Instance Creation Date'],
  ['00080013', 'TM', 'X/Z/D', 'Instance Creation Time'],
  ['00080017', 'UI', 'U', 'Acquisition UID'],
  ['00080018', 'UI', 'U', 'SOP Instance UID'],
  ['00080019', 'UI', 'U', 'Pyramid UID'],
  ['00080020', 'DA', 'Z', 'Study Date'],
  ['00080021', 'DA', 'X/D', 'Series Date'],
  ['00080022', 'DA', 'X/Z', 'Acquisition Date'],
  ['00080023', 'DA', 'Z/D', 'Content Date'],
  ['00080024', 'DA', 'X', 'Overlay Date'],
  ['00080025', 'DA', 'X', 'Curve Date'],
  ['0008002a', 'DT', 'X/Z/D', 'Acquisition DateTime'],
  ['00080030', 'TM', 'Z', 'Study Time'],
  ['00080031', 'TM', 'X/D', 'Series Time'],
  ['00080032', 'TM', 'X/Z', 'Acquisition Time'],
  ['00080033', 'TM', 'Z/D', 'Content Time'],
  ['00080034', 'TM', 'X', 'Overlay Time'],
  ['00080035', 'TM', 'X', 'Curve Time'],
  ['00080050', 'SH', 'Z', 'Accession Number'],
  ['00080054', 'AE', 'X', 'Retrieve AE Title'],
  ['00080055', 'AE', 'X', 'Station AE Title'],
  ['00080058', 'UI', 'U', 'Failed SOP Instance UID List'],
  ['00080080', 'LO', 'X/Z/D', 'Institution Name'],
  ['00080081', 'ST', 'X', 'Institution Address'],
  ['00080082', 'SQ', 'X/Z/D', 'Institution Code Sequence'],
  ['00080090', 'PN', 'Z', "Referring Physician's Name"],
  ['00080092', 'ST', 'X', "Referring Physician's Address"],
  ['00080094', 'SH', 'X', "Referring Physician's Telephone Numbers"],
  ['00080096', 'SQ', 'X', "Referring Physician's Identification Sequence"],
  ['0008009c', 'PN', 'X', "Consulting Physician's Name"],
  ['0008009d', 'SQ', 'X', 'Consulting Physician Identification Sequence'],
  ['0008010d', 'UI', 'U', 'Context Group Extension Creator UID'],
  ['00080201', 'SH', 'X', 'Timezone Offset From UTC'],
  ['00081000', 'AE', 'X', 'Network ID (Retired)'],
  ['00081010', 'SH', 'X/Z/D', 'Station Name'],
  ['00081030', 'LO', 'X', 'Study Description'],
  ['0008103e', 'LO', 'X', 'Series Description'],
  ['00081040', 'LO', 'X', 'Institutional Department Name'],
  ['00081041', 'SQ', 'X', 'Institutional Department Type Code Sequence'],
  ['00081048', 'PN', 'X', 'Physician(s) of Record'],
  ['00081049', 'SQ', 'X', 'Physician(s) of Record Identification Sequence'],
  ['00081050', 'PN', 'X', "Performing Physicians' Name"],
  ['00081052', 'SQ', 'X', "Performing Physician's Identification Sequence"],
  ['00081060', 'PN', 'X', 'Name of Physician(s) Reading Study'],
  ['00081062', 'SQ', 'X', 'Physician(s) Reading Study Identification Sequence'],
  ['00081070', 'PN', 'X/Z/D', "Operators' Name"],
  ['00081072', 'SQ', 'X/D', "Operators' Identification Sequence"],
  ['00081080', 'LO', 'X', 'Admitting Diagnoses Description'],
  ['00081084', 'SQ', 'X', 'Admitting Diagnoses Code Sequence'],
  ['00081110', 'SQ', 'X/Z', 'Referenced Study Sequence'],
  ['00081111', 'SQ', 'X/Z/D', 'Referenced Performed Procedure Step Sequence'],
  ['00081120', 'SQ', 'X', 'Referenced Patient Sequence'],
  ['00081140', 'SQ', 'X/Z/U*', 'Referenced Image Sequence'],
  ['00081155', 'UI', 'U', 'Referenced SOP Instance UID'],
  ['00081195', 'UI', 'U', 'Transaction UID'],
  ['00082111', 'ST', 'X', 'Derivation Description'],
  ['00082112', 'SQ', 'X/Z/U*', 'Source Image Sequence'],
  ['00083010', 'UI', 'U', 'Irradiation Event UID'],
  ['00084000', 'LT', 'X', 'Identifying Comments'],
  ['00089123', 'UI', 'U', 'Creator-Version UID'],
  ['00100010', 'PN', 'Z', "Patient's Name"],
  ['00100020', 'LO', 'Z', 'Patient ID'],
  ['00100021', 'LO', 'X', 'Issuer of Patient ID'],
  ['00100024', 'SQ', 'X', 'Issuer of Patient ID Qualifiers Sequence'],
  ['00100030', 'DA', 'Z', "Patient's Birth Date"],
  ['00100032', 'TM', 'X', "Patient's Birth Time"],
  ['00100033', 'LO', 'X', "Patient's Birth Date in Alternative Calendar"],
  ['00100034', 'LO', 'X', "Patient's Death Date in Alternative Calendar"],
  ['00100035', 'CS', 'X', "Patient's Alternative Calendar"],
  ['00100040', 'CS', 'Z', "Patient's Sex"],
  ['00100050', 'SQ', 'X', "Patient's Insurance Plan Code Sequence"],
  ['00100101', 'SQ', 'X', "Patient's Primary Language Code Sequence"],
  ['00100102', 'SQ', 'X', "Patient's Primary Language Modifier Code Sequence"],
  ['00101000', 'LO', 'X', 'Other Patient IDs'],
  ['00101001', 'PN', 'X', 'Other Patient Names'],
  ['00101002', 'SQ', 'X', 'Other Patient IDs Sequence'],
  ['00101005', 'PN', 'X', "Patient's Birth Name"],
  ['00101010', 'AS', 'X', "Patient's Age"],
  ['00101020', 'DS', 'X', "Patient's Size"],
  ['00101030', 'DS', 'X', "Patient's Weight"],
  ['00101040', 'LO', 'X', "Patient's Address"],
  ['00101050', 'LO', 'X', 'Insurance Plan Identification'],
  ['00101060', 'PN', 'X', "Patient's Mother's Birth Name"],
  ['00101080', 'LO', 'X', 'Military Rank'],
  ['00101081', 'LO', 'X', 'Branch of Service'],
  ['00101090', 'LO', 'X', 'Medical Record Locator'],
  ['00101100', 'SQ', 'X', 'Referenced Patient Photo Sequence'],
  ['00102000', 'LO', 'X', 'Medical Alerts'],
  ['00102110', 'LO', 'X', 'Allergies'],
  ['00102150', 'LO', 'X', 'Country of Residence'],
  ['00102152', 'LO', 'X', 'Region of Residence'],
  ['00102154', 'SH', 'X', "Patient's Telephone Numbers"],
  ['00102155', 'LT', 'X', "Patient's Telecom Information"],
  ['00102160', 'SH', 'X', 'Ethnic Group'],
  ['00102180', 'SH', 'X', 'Occupation'],
  ['001021a0', 'CS', 'X', 'Smoking Status'],
  ['001021b0', 'LT', 'X', 'Additional Patient History'],
  ['001021c0', 'US', 'X', 'Pregnancy Status'],
  ['001021d0', 'DA', 'X', 'Last Menstrual Date'],
  ['001021f0', 'LO', 'X', "Patient's Religious Preference"],
  ['00102203', 'CS', 'X/Z', 'Patient Sex Neutered'],
  ['00102297', 'PN', 'X', 'Responsible Person'],
  ['00102299', 'LO', 'X', 'Responsible Organization'],
  ['00104000', 'LT', 'X', 'Patient Comments'],
  ['00120010', 'LO', 'D', 'Clinical Trial Sponsor Name'],
  ['00120020', 'LO', 'D', 'Clinical Trial Protocol ID'],
  ['00120021', 'LO', 'Z', 'Clinical Trial Protocol Name'],
  ['00120030', 'LO', 'Z', 'Clinical Trial Site ID'],
  ['00120031', 'LO', 'Z', 'Clinical Trial Site Name'],
  ['00120040', 'LO', 'D', 'Clinical Trial Subject ID'],
  ['00120042', 'LO', 'D', 'Clinical Trial Subject Reading ID'],
  ['00120050', 'LO', 'Z', 'Clinical Trial Time Point ID'],
  ['00120051', 'ST', 'X', 'Clinical Trial Time Point Description'],
  ['00120060', 'LO', 'Z', 'Clinical Trial Coordinating Center Name'],
  ['00120071', 'LO', 'X', 'Clinical Trial Series ID'],
  ['00120072', 'LO', 'X', 'Clinical Trial Series Description'],
  ['00120081', 'LO', 'D', 'Clinical Trial Protocol Ethics Committee Name'],
  ['00120082', 'LO', 'X', 'Clinical Trial Protocol Ethics Committee Approval Number'],
  ['00180010', 'LO', 'Z/D', 'Contrast/Bolus Agent'],
  ['00181000', 'LO', 'X/Z/D', 'Device Serial Number'],
  ['00181002', 'UI', 'U', 'Device UID'],
  ['00181004', 'LO', 'X', 'Plate ID'],
  ['00181005', 'LO', 'X', 'Generator ID'],
  ['00181007', 'LO', 'X', 'Cassette ID'],
  ['00181008', 'LO', 'X', 'Gantry ID'],
  ['00181009', 'UT', 'X', 'Unique Device Identifier'],
  ['0018100a', 'SQ', 'X', 'UDI Sequence'],
  ['00181012', 'DA', 'X', 'Date of Secondary Capture'],
  ['00181014', 'TM', 'X', 'Time of Secondary Capture'],
  ['00181030', 'LO', 'X/D', 'Protocol Name'],
  ['00181200', 'DA', 'X', 'Date of Last Calibration'],
  ['00181201', 'TM', 'X', 'Time of Last Calibration'],
  ['00181202', 'DT', 'X', 'DateTime of Last Calibration'],
  ['00181400', 'LO', 'X/D', 'Acquisition Device Processing Description'],
  ['001811bb', 'LO', 'D', 'Acquisition Field Of View Label'],
  ['00182042', 'UI', 'U', 'Target UID'],
  ['00184000', 'LT', 'X', 'Acquisition Comments'],
  ['0018700a', 'SH', 'X/D', 'Detector ID'],
  ['00189185', 'ST', 'X', 'Respiratory Motion Compensation Technique Description'],
  ['00189367', 'SH', 'D', 'X-Ray Source ID'],
  ['00189371', 'SH', 'D', 'X-Ray Detector ID'],
  ['00189373', 'ST', 'X', 'X-Ray Detector Label'],
  ['00189424', 'LT', 'X', 'Acquisition Protocol Description'],
  ['00189516', 'DT', 'X/D', 'Start Acquisition DateTime'],
  ['00189517', 'DT', 'X/D', 'End Acquisition DateTime'],
  ['00189701', 'DT', 'X/D', 'Decay Correction DateTime'],
  ['0018a002', 'DT', 'X/D', 'Contribution DateTime'],
  ['0018a003', 'ST', 'X', 'Contribution Description'],
  ['0020000d', 'UI', 'U', 'Study Instance UID'],
  ['0020000e', 'UI', 'U', 'Series Instance UID'],
  ['00200010', 'SH', 'Z', 'Study ID'],
  ['00200052', 'UI', 'U', 'Frame of Reference UID'],
  ['00200200', 'UI', 'U', 'Synchronization Frame of Reference UID'],
  ['00203401', 'CS', 'X', 'Modifying Device ID (Retired)'],
  ['00203403', 'DA', 'X', 'Modified Image Date (Retired)'],
  ['00203404', 'LO', 'X', 'Modifying Device Manufacturer (Retired)'],
  ['00203405', 'TM', 'X', 'Modified Image Time (Retired)'],
  ['00203406', 'LO', 'X', 'Modified Image Description (Retired)'],
  ['00204000', 'LT', 'X', 'Image Comments'],
  ['00209158', 'LT', 'X', 'Frame Comments'],
  ['00209161', 'UI', 'U', 'Concatenation UID'],
  ['00209164', 'UI', 'U', 'Dimension Organization UID'],
  ['00281199', 'UI', 'U', 'Palette Color Lookup Table UID'],
  ['00281214', 'UI', 'U', 'Large Palette Color Lookup Table UID'],
  ['00284000', 'LT', 'X', 'Image Presentation Comments (Retired)'],
  ['00320012', 'LO', 'X', 'Study ID Issuer (Retired)'],
  ['00320032', 'DA', 'X', 'Study Verified Date (Retired)'],
  ['00320033', 'TM', 'X', 'Study Verified Time (Retired)'],
  ['00320034', 'DA', 'X', 'Study Read Date (Retired)'],
  ['00320035', 'TM', 'X', 'Study Read Time (Retired)'],
  ['00321000', 'DA', 'X', 'Scheduled Study Start Date (Retired)'],
  ['00321001', 'TM', 'X', 'Scheduled Study Start Time (Retired)'],
  ['00321010', 'DA', 'X', 'Scheduled Study Stop Date (Retired)'],
  ['00321011', 'TM', 'X', 'Scheduled Study Stop Time (Retired)'],
  ['00321020', 'LO', 'X', 'Scheduled Study Location (Retired)'],
  ['00321021', 'AE', 'X', 'Scheduled Study Location AE Title (Retired)'],
  ['00321030', 'LO', 'X', 'Reason for Study (Retired)'],
  ['00321032', 'PN', 'X', 'Requesting Physician'],
  ['00321033', 'LO', 'X', 'Requesting Service'],
  ['00321034', 'SQ', 'X', 'Requesting Service Code Sequence'],
  ['00321040', 'DA', 'X', 'Study Arrival Date (Retired)'],
  ['00321041', 'TM', 'X', 'Study Arrival Time (Retired)'],
  ['00321050', 'DA', 'X', 'Study Completion Date (Retired)'],
  ['00321051', 'TM', 'X', 'Study Completion Time (Retired)'],
  ['00321060', 'LO', 'X/Z', 'Requested Procedure Description'],
  ['00321070', 'LO', 'X', 'Requested Contrast Agent'],
  ['00324000', 'LT', 'X', 'Study Comments (Retired)'],
  ['00380004', 'SQ', 'X', 'Referenced Patient Alias Sequence'],
  ['00380010', 'LO', 'X', 'Admission ID'],
  ['00380011', 'LO', 'X', 'Issuer of Admission ID (Retired)'],
  ['00380014', 'SQ', 'X', 'Issuer of Admission ID Sequence'],
  ['0038001a', 'DA', 'X', 'Scheduled Admission Date (Retired)'],
  ['0038001b', 'TM', 'X', 'Scheduled Admission Time (Retired)'],
  ['0038001c', 'DA', 'X', 'Scheduled Discharge Date (Retired)'],
  ['0038001d', 'TM', 'X', 'Scheduled Discharge Time (Retired)'],
  ['0038001e', 'LO', 'X', 'Scheduled Patient Institution Residence (Retired)'],
  ['00380020', 'DA', 'X', 'Admitting Date'],
  ['00380021', 'TM', 'X', 'Admitting Time'],
  ['00380030', 'DA', 'X', 'Discharge Date (Retired)'],
  ['00380032', 'TM', 'X', 'Discharge Time (Retired)'],
  ['00380040', 'LO', 'X', 'Discharge Diagnosis Description (Retired)'],
  ['00380050', 'LO', 'X', 'Special Needs'],
  ['00380060', 'LO', 'X', 'Service Episode ID'],
  ['00380061', 'LO', 'X', 'Issuer of Service Episode ID (Retired)'],
  ['00380062', 'LO', 'X', 'Service Episode Description'],
  ['00380064', 'SQ', 'X', 'Issuer of Service Episode ID Sequence'],
  ['00380300', 'LO', 'X', 'Current Patient Location'],
  ['00380400', 'LO', 'X', "Patient's Institution Residence"],
  ['00380500', 'LO', 'X', 'Patient State'],
  ['00384000', 'LT', 'X', 'Visit Comments'],
  ['00400001', 'AE', 'X', 'Scheduled Station AE Title'],
  ['00400002', 'DA', 'X', 'Scheduled Procedure Step Start Date'],
  ['00400003', 'TM', 'X', 'Scheduled Procedure Step Start Time'],
  ['00400004', 'DA', 'X', 'Scheduled Procedure Step End Date'],
  ['00400005', 'TM', 'X', 'Scheduled Procedure Step End Time'],
  ['00400006', 'PN', 'X', 'Scheduled Performing Physician Name'],
  ['00400007', 'LO', 'X', 'Scheduled Procedure Step Description'],
  ['00400009', 'SH', 'X', 'Scheduled Procedure Step ID'],
  ['0040000b', 'SQ', 'X', 'Scheduled Performing Physician Identification Sequence'],
  ['00400010', 'SH', 'X', 'Scheduled Station Name'],
  ['00400011', 'SH', 'X', 'Scheduled Procedure Step Location'],
  ['00400012', 'LO', 'X', 'Pre-Medication'],
  ['00400241', 'AE', 'X', 'Performed Station AE Title'],
  ['00400242', 'SH', 'X', 'Performed Station Name'],
  ['00400243', 'SH', 'X', 'Performed Location'],
  ['00400244', 'DA', 'X', 'Performed Procedure Step Start Date'],
  ['00400245', 'TM', 'X', 'Performed Procedure Step Start Time'],
  ['00400250', 'DA', 'X', 'Performed Procedure Step End Date'],
  ['00400251', 'TM', 'X', 'Performed Procedure Step End Time'],
  ['00400253', 'SH', 'X', 'Performed Procedure Step ID'],
  ['00400254', 'LO', 'X', 'Performed Procedure Step Description'],
  ['00400275', 'SQ', 'X', 'Request Attributes Sequence'],
  ['00400280', 'ST', 'X', 'Comments on the Performed Procedure Step'],
  ['00400555', 'SQ', 'X', 'Acquisition Context Sequence'],
  ['00401001', 'SH', 'X', 'Requested Procedure ID'],
  ['00401002', 'LO', 'X', 'Reason for the Requested Procedure'],
  ['00401004', 'LO', 'X', 'Patient Transport Arrangements'],
  ['00401005', 'LO', 'X', 'Requested Procedure Location'],
  ['00401010', 'PN', 'X', 'Names of Intended Recipients of Results'],
  ['00401011', 'SQ', 'X', 'Intended Recipients of Results Identification Sequence'],
  ['00401101', 'SQ', 'D', 'Person Identification Code Sequence'],
  ['00401102', 'ST', 'X', "Person's Address"],
  ['00401103', 'LO', 'X', "Person's Telephone Numbers"],
  ['00401104', 'LT', 'X', "Person's Telecom Information"],
  ['00401400', 'LT', 'X', 'Requested Procedure Comments'],
  ['00402001', 'LO', 'X', 'Reason for the Imaging Service Request (Retired)'],
  ['00402004', 'DA', 'X', 'Issue Date of Imaging Service Request'],
  ['00402005', 'TM', 'X', 'Issue Time of Imaging Service Request'],
  ['00402008', 'PN', 'X', 'Order Entered By'],
  ['00402009', 'SH', 'X', "Order Enterer's Location"],
  ['00402010', 'SH', 'X', 'Order Callback Phone Number'],
  ['00402011', 'LT', 'X', 'Order Callback Telecom Information'],
  ['00402016', 'LO', 'X', 'Placer Order Number / Imaging Service Request'],
  ['00402017', 'LO', 'X', 'Filler Order Number / Imaging Service Request'],
  ['00402400', 'LT', 'X', 'Imaging Service Request Comments'],
  ['00403001', 'LO', 'X', 'Confidentiality Constraint on Patient Data Description'],
  ['00404005', 'DT', 'X', 'Scheduled Procedure Step Start DateTime'],
  ['00404008', 'DT', 'X', 'Scheduled Procedure Step Expiration DateTime'],
  ['00404010', 'DT', 'X', 'Scheduled Procedure Step Modification DateTime'],
  ['00404011', 'DT', 'X', 'Expected Completion DateTime'],
  ['00404023', 'UI', 'U', 'Referenced General Purpose Scheduled Procedure Step Transaction UID (Retired)'],
  ['00404025', 'SQ', 'X', 'Scheduled Station Name Code Sequence'],
  ['00404027', 'SQ', 'X', 'Scheduled Station Geographic Location Code Sequence'],
  ['00404028', 'SQ', 'X', 'Performed Station Name Code Sequence'],
  ['00404030', 'SQ', 'X', 'Performed Station Geographic Location Code Sequence'],
  ['00404034', 'SQ', 'X', 'Scheduled Human Performers Sequence'],
  ['00404035', 'SQ', 'X', 'Actual Human Performers Sequence'],
  ['00404036', 'LO', 'X', "Human Performer's Organization"],
  ['00404037', 'PN', 'X', "Human Performer's Name"],
  ['00404050', 'DT', 'X', 'Performed Procedure Step Start DateTime'],
  ['00404051', 'DT', 'X', 'Performed Procedure Step End DateTime'],
  ['00404052', 'DT', 'X', 'Procedure Step Cancellation DateTime'],
  ['0040a027', 'LO', 'X', 'Verifying Organization'],
  ['0040a030', 'DT', 'D', 'Verification DateTime'],
  ['0040a032', 'DT', 'X/D', 'Observation DateTime'],
  ['0040a073', 'SQ', 'D', 'Verifying Observer Sequence'],
  ['0040a075', 'PN', 'D', 'Verifying Observer Name'],
  ['0040a078', 'SQ', 'X', 'Author Observer Sequence'],
  ['0040a07a', 'SQ', 'X', 'Participant Sequence'],
  ['0040a07c', 'SQ', 'X', 'Custodial Organization Sequence'],
  ['0040a088', 'SQ', 'Z', 'Verifying Observer Identification Code Sequence'],
  ['0040a120', 'DT', 'D', 'DateTime'],
  ['0040a121', 'DA', 'D', 'Date'],
  ['0040a122', 'TM', 'D', 'Time'],
  ['0040a123', 'PN', 'D', 'Person Name'],
  ['0040a124', 'UI', 'U', 'UID'],
  ['0040a13a', 'DT', 'D', 'Referenced DateTime'],
  ['0040a171', 'UI', 'U', 'Observation UID'],
  ['0040a172', 'UI', 'U', 'Referenced Observation UID (Trial) (Retired)'],
  ['0040a192', 'DA', 'X', 'Observation Date (Trial) (Retired)'],
  ['0040a193', 'TM', 'X', 'Observation Time (Trial) (Retired)'],
  ['0040a353', 'ST', 'X', 'Address (Trial) (Retired)'],
  ['0040a402', 'UI', 'U', 'Observation Subject UID (Trial) (Retired)'],
  ['0040a730', 'SQ', 'X', 'Content Sequence'],
  ['0040db0c', 'UI', 'U', 'Template Extension Organization UID (Retired)'],
  ['0040db0d', 'UI', 'U', 'Template Extension Creator UID (Retired)'],
  ['00620021', 'UI', 'U', 'Tracking UID'],
  ['00640003', 'UI', 'U', 'Source Frame of Reference UID'],
  ['00700001', 'SQ', 'D', 'Graphic Annotation Sequence'],
  ['00700082', 'DA', 'X/D', 'Presentation Creation Date'],
  ['00700083', 'TM', 'X/D', 'Presentation Creation Time'],
  ['00700084', 'PN', 'Z', "Content Creator's Name"],
  ['00700086', 'SQ', 'X', "Content Creator's Identification Code Sequence"],
  ['0070031a', 'UI', 'U', 'Fiducial UID'],
  ['00701101', 'UI', 'U', 'Presentation Display Collection UID'],
  ['00701102', 'UI', 'U', 'Presentation Sequence Collection UID'],
  ['00880140', 'UI', 'U', 'Storage Media File-set UID'],
  ['00880200', 'SQ', 'X', 'Icon Image Sequence'],
  ['00880904', 'LO', 'X', 'Topic Title (Retired)'],
  ['00880906', 'ST', 'X', 'Topic Subject (Retired)'],
  ['00880910', 'LO', 'X', 'Topic Author (Retired)'],
  ['00880912', 'LO', 'X', 'Topic Keywords (Retired)'],
  ['01000420', 'DT', 'X', 'SOP Authorization DateTime'],
  ['01000424', 'LT', 'X', 'SOP Authorization Comment'],
  ['01000426', 'LO', 'X', 'Authorization Equipment Certification Number'],
  ['04000100', 'UI', 'X', 'Digital Signature UID'],
  ['04000105', 'DT', 'X', 'Digital Signature DateTime'],
  ['04000115', 'OB', 'X', 'Certificate of Signer'],
  ['04000120', 'OB', 'X', 'Signature'],
  ['04000305', 'CS', 'X', 'Certified Timestamp Type'],
  ['04000310', 'OB', 'X', 'Certified Timestamp'],
  ['04000402', 'SQ', 'X', 'Referenced Digital Signature Sequence'],
  ['04000403', 'SQ', 'X', 'Referenced SOP Instance MAC Sequence'],
  ['04000404', 'OB', 'X', 'MAC'],
  ['04000550', 'SQ', 'X', 'Modified Attributes Sequence'],
  ['04000561', 'SQ', 'X', 'Original Attributes Sequence'],
  ['04000562', 'DT', 'X', 'Attribute Modification DateTime'],
  ['04000563', 'LO', 'X', 'Modifying System'],
  ['04000564', 'LO', 'X', 'Source of Previous Values'],
  ['20300020', 'LO', 'X', 'Text String'],
  ['22000005', 'LT', 'X/Z', 'Barcode Value'],
  ['30060024', 'UI', 'U', 'Referenced Frame of Reference UID'],
  ['30060026', 'LO', 'X/Z', 'ROI Name'],
  ['30060028', 'ST', 'X', 'ROI Description'],
  ['300600a6', 'PN', 'X/Z', 'ROI Interpreter'],
  ['300600c2', 'UI', 'U', 'Related Frame of Reference UID'],
  ['30060085', 'SH', 'X', 'ROI Observation Label'],
  ['30060088', 'ST', 'X', 'ROI Observation Description'],
  ['300a0002', 'SH', 'D', 'RT Plan Label'],
  ['300a0003', 'LO', 'X', 'RT Plan Name'],
  ['300a0004', 'ST', 'X', 'RT Plan Description'],
  ['300a0006', 'DA', 'X', 'RT Plan Date'],
  ['300a0007', 'TM', 'X', 'RT Plan Time'],
  ['300a000e', 'ST', 'X', 'Prescription Description'],
  ['300a0013', 'UI', 'U', 'Dose Reference UID'],
  ['300a0016', 'LO', 'X', 'Dose Reference Description'],
  ['300e0004', 'DA', 'Z', 'Review Date'],
  ['300e0005', 'TM', 'Z', 'Review Time'],
  ['300e0008', 'PN', 'X/Z', 'Reviewer Name'],
  ['40000010', 'LT', 'X', 'Arbitrary (Retired)'],
  ['40004000', 'LT', 'X', 'Text Comments (Retired)'],
  ['40080042', 'LO', 'X', 'Results ID Issuer (Retired)'],
  ['40080102', 'PN', 'X', 'Interpretation Recorder (Retired)'],
  ['4008010a', 'PN', 'X', 'Interpretation Transcriber (Retired)'],
  ['4008010b', 'ST', 'X', 'Interpretation Text (Retired)'],
  ['4008010c', 'PN', 'X', 'Interpretation Author (Retired)'],
  ['40080111', 'SQ', 'X', 'Interpretation Approver Sequence (Retired)'],
  ['40080114', 'PN', 'X', 'Physician Approving Interpretation (Retired)'],
  ['40080115', 'LT', 'X', 'Interpretation Diagnosis Description (Retired)'],
  ['40080118', 'SQ', 'X', 'Results Distribution List Sequence (Retired)'],
  ['40080119', 'PN', 'X', 'Distribution Name (Retired)'],
  ['4008011a', 'LO', 'X', 'Distribution Address (Retired)'],
  ['40080202', 'LO', 'X', 'Interpretation ID Issuer (Retired)'],
  ['40080300', 'ST', 'X', 'Impressions (Retired)'],
  ['40084000', 'ST', 'X', 'Results Comments (Retired)'],
  ['fffafffa', 'SQ', 'X', 'Digital Signatures Sequence'],
];

/** Attributes kept deliberately although Table E.1-1 lists them (see the module comment). */
export const RETAINED_BY_READFLOW: ReadonlySet<string> = new Set(['x00100040', 'x00101010']);

/**
 * Resolves a combined action for the Basic Profile. ReadFlow takes the option that discloses least while keeping
 * the object decodable: anything that allows X is removed (Type 1/2 conformance of the remaining identifying
 * attributes is not needed by readers), Z/D becomes Z, X/Z/U* (references to other instances) is removed.
 */
export function resolveAction(a: BasicAction): ResolvedAction {
  switch (a) {
    case 'X':
    case 'X/Z':
    case 'X/D':
    case 'X/Z/D':
    case 'X/Z/U*':
      return 'X';
    case 'Z':
    case 'Z/D':
      return 'Z';
    case 'D':
    case 'C':
      return 'D';
    case 'U':
      return 'U';
    case 'K':
      return 'K';
  }
}

export const PROFILE: ReadonlyMap<string, ProfileRow & { resolved: ResolvedAction }> = new Map(
  TABLE_E_1_1.map(([t, vr, action, name]) => {
    const tag = `x${t.toLowerCase()}`;
    const resolved: ResolvedAction = RETAINED_BY_READFLOW.has(tag) ? 'K' : resolveAction(action);
    return [tag, { tag, vr, action, name, resolved }];
  }),
);

/** Removed groups beyond the table: Curve Data (50xx) and Overlays (60xx), even groups 0x5000-0x501E / 0x6000-0x601E. */
export function isRemovedRepeatingGroup(group: number): boolean {
  return (group >= 0x5000 && group <= 0x501e && group % 2 === 0) || (group >= 0x6000 && group <= 0x601e && group % 2 === 0);
}

/** The action for a data element in any data set (top level or nested). */
export function actionFor(tag: string, group: number, element: number): ResolvedAction {
  if (group % 2 === 1) return 'X'; // private data elements and private creators
  if (element === 0 && group !== 0x0002) return 'X'; // group lengths
  if (group === 0x0000 || group === 0x0001 || group === 0x0003 || group === 0x0005 || group === 0x0007) return 'X';
  if (isRemovedRepeatingGroup(group)) return 'X';
  if (tag === 'xfffcfffc') return 'X'; // Data Set Trailing Padding (not in E.1-1; may hold stale bytes)
  const row = PROFILE.get(tag);
  return row ? row.resolved : 'K';
}

/** Text of DeidentificationMethod (0012,0063), each value ≤ 64 characters (LO). */
export const DEIDENTIFICATION_METHOD = [
  'DICOM PS3.15 E.1.1 Basic Application Level Confidentiality',
  'ReadFlow: private/curve/overlay groups removed; HMAC 2.25 UIDs',
  'Retained: PatientSex, PatientAge (113108 subset)',
];

/** Items of DeidentificationMethodCodeSequence (0012,0064), CID 7050. */
export const DEIDENTIFICATION_CODES: ReadonlyArray<{ value: string; scheme: string; meaning: string }> = [
  { value: '113100', scheme: 'DCM', meaning: 'Basic Application Confidentiality Profile' },
  { value: '113108', scheme: 'DCM', meaning: 'Retain Patient Characteristics Option' },
];
