import BirderCore
import BirderModels
import BirderTestSupport
import Testing

/// The registry tells a checkpoint's network from its tensor names and shapes (the listings of
/// the real published state dicts, ../shared/reference/state_dict_*.txt).
@Suite struct NetworkIdentificationTests {
    @Test func publishedStateDictsAreRecognised() throws {
        let registry = NetworkRegistry.builtIn
        #expect(registry.identify(try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt"), config: [:]) == ["rdnet_t"])
        #expect(registry.identify(try ListedSource(listing: "rdnet/state_dict_rdnet_s.txt"), config: [:]) == ["rdnet_s"])
        // BioCLIP's weights fit two configs that differ only in the activation, which no weight
        // shows: the loader then needs the file name (or the caller) to choose, and refuses to guess.
        let vit = registry.identify(try ListedSource(listing: "vit/state_dict_vit_b16_pn.txt"), config: [:])
        #expect(vit == ["vit_b16_pn", "vit_b16_pn_quick_gelu"])
        #expect(registry.network(inFileName: "vit_b16_pn_bioclip-v1.pt") == "vit_b16_pn")
    }

    @Test func weightsOfNoKnownNetworkMatchNothing() throws {
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.remove("stem.0.weight")
        #expect(NetworkRegistry.builtIn.identify(source, config: [:]).isEmpty)
    }
}
