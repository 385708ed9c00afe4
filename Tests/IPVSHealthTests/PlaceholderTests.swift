import Testing
@testable import IPVSHealth
@Test func placeholder() {}
