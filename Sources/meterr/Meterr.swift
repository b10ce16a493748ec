import ArgumentParser

@main
struct Meterr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Meter what your company spends on AI APIs.")
}
