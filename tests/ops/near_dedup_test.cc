// Near-duplicate deduplicators (ops/dedup/near_deduplicators.cc) and the decision machinery they share
// with document_deduplicator (ops/dedup/external_sort.h):
//   * SHA-1 against hashlib;
//   * MinHash signatures and SimHash values of 300 real texts (examples/demo/data.jsonl), in all three
//     tokenizations, against a reference written in Python from datajuicer-ops.md §5 (hashlib, uint64
//     arithmetic wrapped with & (2**64 - 1)), pinned here: SHA-1 of the signature as 256 little-endian
//     uint32, first 8 bytes in hex; the simhash as an integer;
//   * the decisions over those texts plus 60 near duplicates, against the same reference (exhaustive
//     pairwise simhash comparison, so the blocking search is checked for completeness too);
//   * the (B, R) search values the spec gives; union-find and transitivity rules on crafted fingerprints;
//   * the spill path: identical decisions with a budget that forces sorted runs on disk (std::sort there,
//     the radix sort of RadixSortKeyIndex in memory), and that radix sort against std::sort directly.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/json_writer.h"
#include "ops/dedup/external_sort.h"
#include "ops/dedup/near_deduplicators.h"
#include "ops/dedup/sha1.h"
#include "op_harness.h"
#include "temp_dir.h"

namespace sluice {
namespace {

using testing::Dataset;
using testing::MakeOp;
using testing::MemoryFingerprints;
using testing::ParamList;
using testing::S;
using testing::I;
using testing::B;


std::string Hex(const uint8_t* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += k[d[i] >> 4];
    s += k[d[i] & 15];
  }
  return s;
}

TEST(Sha1, MatchesHashlib) {
  struct Case {
    std::string text;
    const char* hex;
    uint32_t le32;
  };
  const Case cases[] = {
      {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709", 4003674586u},
      {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d", 910072233u},
      {std::string(55, 'a'), "c1c8bbdc22796e28c0e15163d20899b65621d65a", 3703294145u},
      {std::string(56, 'a'), "c2db330f6083854c99d4b5bfb6e8f29f201be699", 255056834u},
      {std::string(63, 'a'), "03f09f5b158a7a8cdad920bddc29b81c18a551f5", 1537208323u},
      {std::string(64, 'a'), "0098ba824b5c16427bd7a1122a5a442a25ec644d", 2193266688u},
      {std::string(119, 'a'), "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56", 1695586286u},
      {std::string(1000, 'a'), "291e9a6c66994949b57ba5e650361e98fc36b1ba", 1822039593u},
      {"数据 清洗 naïve", "78d16572e907d386cfcdca6657aeb89f8bf063ea", 1919275384u},
  };
  for (const Case& c : cases) {
    uint8_t d[20];
    text::Sha1Digest(c.text, d);
    EXPECT_EQ(Hex(d, 20), c.hex) << c.text.size();
    EXPECT_EQ(text::Sha1Le32(c.text), c.le32) << c.text.size();
    text::Sha1 h;  // streaming in uneven pieces
    for (size_t i = 0; i < c.text.size(); i += 7) h.Update(std::string_view(c.text).substr(i, 7));
    h.Final(d);
    EXPECT_EQ(Hex(d, 20), c.hex);
  }
}

TEST(Sha1, PortableBlockMatchesHashlib) {
  // "abc" padded to one block by hand.
  unsigned char block[64] = {'a', 'b', 'c', 0x80};
  block[63] = 24;  // bit length
  uint32_t s[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  text::Sha1CompressPortable(s, block);
  const uint32_t want[5] = {0xa9993e36, 0x4706816a, 0xba3e2571, 0x7850c26c, 0x9cd0d89d};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s[i], want[i]) << i;
}

TEST(MinHash, OptimalBandsMatchTheSpec) {
  EXPECT_EQ(MinHashOptimalBands(0.7, 256), std::make_pair(25, 10));
  EXPECT_EQ(MinHashOptimalBands(0.8, 256), std::make_pair(17, 15));
  EXPECT_EQ(MinHashOptimalBands(0.9, 256), std::make_pair(9, 28));
  EXPECT_EQ(MinHashOptimalBands(0.5, 256), std::make_pair(42, 6));
  EXPECT_EQ(MinHashOptimalBands(0.7, 128), std::make_pair(14, 9));
  auto op = MakeOp("document_minhash_deduplicator");  // null bands / rows: the search, 25 x 10
  EXPECT_EQ(static_cast<Deduplicator&>(*op).fingerprint_size(), 25u * 8);
}

std::vector<std::string> DemoTexts(size_t n) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/examples/demo/data.jsonl");
  std::vector<std::string> texts;
  std::string line;
  simdjson::dom::parser parser;
  while (texts.size() < n && std::getline(in, line))
    texts.emplace_back(std::string_view(parser.parse(line)["text"].get_string().value()));
  return texts;
}

std::string TextJson(std::string_view t) {
  JsonWriter w;
  w.BeginObject().Field("text", t).EndObject();
  return w.Take();
}

struct Pin {
  const char* minhash;  // "none": no shingles
  uint64_t simhash;
};
// Text i: tokenization space / punctuation / character for i % 3, window 5 / 3 / 7 (simhash: one more),
// ignore_pattern \p{P} when i % 4 == 0, lowercase unless i % 5 == 0.
const Pin kPins[] = {
    {"a5ea4834c5068f5b", 10822392920735759488u},
    {"206ddb6184a2411e", 10414868263920046304u},
    {"1b1fde35de0949ae", 7211677496206885834u},
    {"c9143fd2c5b35c91", 8795681231774302485u},
    {"none", 0u},
    {"6ab418c26525f7be", 4012454095980611240u},
    {"3bd203445e646763", 6375592212760765259u},
    {"633efa0b3ae2692d", 6955301582240067629u},
    {"be8e0d72bf070bdb", 6394843846581436720u},
    {"18f48e5ab0172917", 5929420815639243715u},
    {"3e36b52d98c169de", 14496620705781165742u},
    {"43fc889195094dd2", 14092205565059666294u},
    {"7ab315f4dc240ef2", 10061376341388054624u},
    {"c0a50f17be87003e", 7099416771389665837u},
    {"64ef0f42f6ce5207", 1802313684008212882u},
    {"8f88404fc364cb4c", 11445257860356748894u},
    {"none", 0u},
    {"1adfa34fca0cc961", 17976807618499919612u},
    {"3c6d9744d034a6b2", 3824122649360116120u},
    {"3a3f2a543a73a2d4", 9223409171285299234u},
    {"35599826f74ee585", 10318910508259537103u},
    {"09ec2eedd0adc265", 2840847058548952811u},
    {"a03b3bc903805424", 4054928257603082253u},
    {"54a5e8aa5caa5916", 9689213944505645717u},
    {"0b20df84e46e54e5", 10845160798802025104u},
    {"18c149ffb665c0e5", 13115291154631685036u},
    {"9dde934e29dd52d3", 9190137218324189450u},
    {"6ad818c0c85a6c34", 4971353246957964826u},
    {"none", 0u},
    {"547f047a51ed4b91", 8322318721273695007u},
    {"d9c10372117b9167", 5216871869198321978u},
    {"f93f8c9036077b6a", 5010369132250534338u},
    {"c53e759ab093f457", 17243164343241714479u},
    {"1c0fc8b81f79d6f3", 10028853894950622475u},
    {"8d4355fc7a5039bd", 4181564776993834081u},
    {"3f8d3177b500b18a", 16726747279859904870u},
    {"003feaca796a733e", 688100745816473795u},
    {"5577bf4941d6db55", 17292917552248972766u},
    {"33cd530c8cf2b536", 10792712155841145417u},
    {"5a795a664731fe77", 12329888921196708707u},
    {"none", 0u},
    {"046fdfcd75c2b563", 6952954171399900579u},
    {"11397077466bf451", 1366815354542071547u},
    {"ff032e8ba9387f6f", 9547865836744401100u},
    {"45e6ede68931dcce", 2263101383279609262u},
    {"7f230c36d89fd67a", 14468408558428730661u},
    {"47c6d3b1545791f6", 7099416771389665837u},
    {"1a12a4187360bd3e", 11368764795603350424u},
    {"0c83cd2de175a309", 6957586330467581636u},
    {"7c439ad6d39dd6d8", 10611615514758246003u},
    {"b1b2544f71fc7266", 7981307614210346694u},
    {"6f81e505eb545c38", 2915516102480277782u},
    {"none", 0u},
    {"fb726ff3101b75e1", 11019278283149075615u},
    {"cd76735e55dd9752", 15077332909117256767u},
    {"d52dc723e6b40355", 7099416771389665837u},
    {"eec2fda518d0f5f3", 3542064657462999280u},
    {"2fa76dc664e5490f", 8013803711665257202u},
    {"313721cd7ca8ec9a", 734246498988797664u},
    {"7d5c0e041f5ab418", 17137427697839107157u},
    {"859270fa177ac1dd", 0u},
    {"c529ae58485fae1f", 14193109771502562288u},
    {"ffba55c1cc593a3f", 0u},
    {"2660bef67500bd3c", 4006772532507096742u},
    {"none", 0u},
    {"c64dd533e6594459", 1770990790565886746u},
    {"df7a537539753cde", 3707837130472177589u},
    {"b2e3b373e677de38", 17372134230903981590u},
    {"dac53738c29baabc", 17691986862220328232u},
    {"c1b7c771598383df", 7116369075315220807u},
    {"2805c6f316abb56e", 7099416771389665837u},
    {"c58c841f2910b438", 14465531381634039883u},
    {"9cae230e742cc7d2", 13568014182380540588u},
    {"20a25aaf69b21769", 7099416771389665837u},
    {"2d7dae47a82c2031", 10362277061009977239u},
    {"29fe87044edc83ac", 10595549939089154533u},
    {"none", 0u},
    {"958b2194338737d2", 3711853581918386651u},
    {"f33b44bd094a56a1", 5167552132196263710u},
    {"270190f3ece65b19", 776311353393621043u},
    {"bdc26d7148952625", 12653676781230625140u},
    {"ff0b009f63252c9c", 7202570624025850844u},
    {"f514c1895407abc5", 8514694392220260901u},
    {"b3d9d0d2c26bcbab", 5727142168652931025u},
    {"a7e2ba697f24ebbe", 16948026718190833894u},
    {"13c210f2151de6ce", 7099416771389665837u},
    {"c5b16ce0a6a85563", 1314396447871599356u},
    {"423b361d3aa3e422", 351342072954901808u},
    {"none", 0u},
    {"a02b33ad0d026aec", 15853754126800519197u},
    {"bd42e356df7eeb4b", 11355938761019542931u},
    {"ed208e22e024ebc2", 0u},
    {"56e2564cd7d8c24f", 9115330560938494346u},
    {"edd3e3806cf55ac7", 12415389578943436213u},
    {"a9ef95a9bb0bb6fc", 7099416771389665837u},
    {"250ddabaeafd6742", 11517568835422115551u},
    {"2bde5c67a949e3db", 11431804627047967986u},
    {"2948d4a6498b1826", 7099416771389665837u},
    {"420a5288f816d8c2", 1774298121541712666u},
    {"97cae4f37e45008d", 1377518701537113169u},
    {"none", 0u},
    {"63e05e6f2f3eda66", 8694121454953379379u},
    {"8018d2a14ecf6f06", 16454337696576541218u},
    {"0d17f2efb5390b7d", 6235751959665313491u},
    {"a2e67cab43040693", 1122332914739199593u},
    {"21ca8bbf465577f8", 2920011232275216629u},
    {"e5a47497a19f747f", 7099416771389665837u},
    {"22362922a45ed752", 2225635947808295275u},
    {"e48131e94d3e9724", 11913098011405017129u},
    {"8a3dab72674e1631", 2268719038708589362u},
    {"915e7f7acab99fc8", 18155243070746411873u},
    {"2bee588eed7fcb42", 3356757411848995741u},
    {"none", 0u},
    {"55310d511f4a004a", 6454850849927041940u},
    {"e40ba71e59599eb3", 2409853662754529660u},
    {"0407ce1c55e1d211", 1247525581297816067u},
    {"92ac9c7e246dae50", 2623328765402169573u},
    {"e76ecb70b5dbd345", 12881015743903378163u},
    {"2dccd558d0da8204", 8868667292211461024u},
    {"9a65fd92401f7103", 4870278992419238897u},
    {"c53c303d4135d17f", 15486744448613660148u},
    {"caff8e27ce775ff5", 14384014567167891072u},
    {"0a94a26053c138b3", 8769328562208690954u},
    {"f76b55ad0d54f423", 13145101072126119001u},
    {"none", 0u},
    {"244fc91c95517585", 1772046321728027418u},
    {"f5992398e7af44b1", 3973669230785256167u},
    {"c3371d59e55bada1", 2363125665185222784u},
    {"40487bd10aff1653", 1306578338573623739u},
    {"bcad4cd2ce90af84", 14935500841660089923u},
    {"cb2d0b6b110213ed", 13356092874633017706u},
    {"41aee47589dc91f5", 8928374201883132957u},
    {"9f0874bc58502854", 1730363364388697858u},
    {"2afa59d72218ff6e", 6946918734445196090u},
    {"c7dc1ca6207a1dfe", 8443257611185689034u},
    {"b5ccbb6cd5197f68", 1084113749086534564u},
    {"none", 0u},
    {"7b3c885afabd57d9", 1839711482710291226u},
    {"ce594ead1574ac66", 6452085408468821300u},
    {"94d111c8eaa4271b", 7099416771389665837u},
    {"f78ec54349e65eb0", 10115251580808515486u},
    {"f0b50305689f813b", 15474873453518871291u},
    {"81a940610a69857a", 1986519578152989135u},
    {"08654cffb85ce2b9", 617154747834760986u},
    {"4b31ac0aaedd58d2", 8401164246189864009u},
    {"ead262f35c10c970", 9872574300904639233u},
    {"a6c33a34018baef5", 2362074927262023995u},
    {"3dca364d2eac4b13", 10521579297757462962u},
    {"none", 0u},
    {"2a3742951259862a", 5347670742493803853u},
    {"76b0d06899bdb907", 6538999182984331955u},
    {"85959a6b494b7192", 8749223697737390842u},
    {"22b47f5b58969e1a", 9824244713650491041u},
    {"f4ae2901382faa56", 1093186362245359234u},
    {"896f74c2ebc8620a", 10852740840942086463u},
    {"3054f3c1611be37c", 15615211694815853404u},
    {"ac89e4b4f4ee4e38", 14393709690241902054u},
    {"5762f2e6a8839582", 7099416771389665837u},
    {"b378a8b777b81fe7", 1784184767963618522u},
    {"e97af11f98dcfd1f", 43730627786340649u},
    {"none", 0u},
    {"none", 0u},
    {"1a1b24319e7fcde3", 7729384532819476849u},
    {"8569f8aaa882beb6", 7099416771389665837u},
    {"0248bba99876690f", 11803320695406441126u},
    {"108c30b1afaa6880", 14502157468030411040u},
    {"09cb012a1ed9afa8", 7099416771389665837u},
    {"e4484d5543fb3931", 10592538832658851761u},
    {"3590402fc7ae8a93", 2465870779785688415u},
    {"4c24170c330158f1", 7099416814339338797u},
    {"66145cf3367dd942", 1772046321728027418u},
    {"e5e336964f61f0d8", 17847794529743725249u},
    {"none", 0u},
    {"3449069e026bc196", 9943878310540335926u},
    {"020ce9331d303239", 14678365679829928758u},
    {"4c646997f89c1b1e", 7099416771389665837u},
    {"d70e4ca471b204d4", 13017300461649607557u},
    {"2fe3e2f2a8b49395", 17645308442156177025u},
    {"59d802b55bc85c7f", 16596675535445358417u},
    {"eb0f478b8b197fd6", 10113270637630545856u},
    {"eabff46210d237d6", 13653064738597139059u},
    {"320e7e32812ce1cd", 7099416771389665837u},
    {"f08dfa77ded8c391", 16615070272931734060u},
    {"de85715a22c47d27", 7373915534284367489u},
    {"none", 0u},
    {"71a5ed5fd487f3c7", 11368764795603350424u},
    {"292e5972ea541466", 3820906327787493322u},
    {"7171d88677c8b0f3", 7099416771389665837u},
    {"cf6d028af3fd9377", 15688625700208933368u},
    {"5439594669477982", 3617040554729570671u},
    {"9cfe556f5d01b765", 15559913715213915198u},
    {"79c619879ff0004d", 14586591175608351352u},
    {"4ff45cf2b9916d3e", 6529061485646148110u},
    {"02faed70705e8991", 74016969259640967u},
    {"42adb6f9b78dbc11", 5997785576126001488u},
    {"e30e8d502c6965ba", 2638687906270356096u},
    {"none", 0u},
    {"3ae15a482bb90c7c", 11351243132921934618u},
    {"4dcb558ca8a9609d", 10957626805570366775u},
    {"5100204954e27e10", 2664808003763737435u},
    {"2683f3ba6bcb2a44", 11293763863334248554u},
    {"b44b9142c6b4ec74", 4218422617877509638u},
    {"ed249ebca530e2ec", 11143851924874617160u},
    {"68f366f20e12694a", 2678982467323300422u},
    {"84476d7b9c9df809", 10781799628581551152u},
    {"d646d26424f9246b", 7494014144426825895u},
    {"40d75b00316ab921", 1772046321728027418u},
    {"d2ac2416cc82cc72", 13771162245936911419u},
    {"none", 0u},
    {"f9e35c1d34935d1d", 13847773343206565032u},
    {"29397188e3e9d7e1", 4796410327456213723u},
    {"0f4eaf22cf866f9d", 1782737196751780677u},
    {"6193f9a5e1b22b62", 13891184387603708987u},
    {"8ef841f489a6905c", 4623962301369997547u},
    {"7a3c31d63e48e334", 6282609941764148838u},
    {"fae8049da6246709", 2017397764593143025u},
    {"df4496e9a305a420", 6723240650746225886u},
    {"26024615b840247d", 10638234677459204535u},
    {"1aed14397f5fe21a", 4725961859662050454u},
    {"f2f2489cc4ff9485", 17402494818012550237u},
    {"none", 0u},
    {"3626eccfe6d93e4c", 7743929202160428108u},
    {"03abf0024ea22b9a", 445348600309429932u},
    {"3ceb406ab5d95eec", 2144048852060133522u},
    {"77d1c26a0a79e615", 4373996846728522238u},
    {"5e84a730989e80de", 10025547384260255094u},
    {"e09ae4e9d37f28e9", 694966433477691595u},
    {"6712e0aef4ad601a", 11919639285097541129u},
    {"336ca1dec59b6d8b", 13131720687999621524u},
    {"fff7a993e0d7fac3", 8117448150555529917u},
    {"b74ab185eae2c8a7", 14952449675923048538u},
    {"d7d540127b1d624d", 15935604531254233977u},
    {"none", 0u},
    {"a6532ae56af043c9", 12347355538044713007u},
    {"f89dc2725615a980", 10794225685252184433u},
    {"48bcb6f3ce3aafff", 2856056233292121120u},
    {"ef247d1dc62c988b", 11354248044091815629u},
    {"9f9d02c7ce81b0a6", 4148666969450349558u},
    {"5eeb1cacacc80fd0", 10540112190919293311u},
    {"9ae2e62c120126b9", 4996679689612304988u},
    {"bc9baf7c9094b8e1", 10440539713655176270u},
    {"ddd57da6d0ea9c34", 7099416771389665837u},
    {"b13a6a1815152ea7", 11315807107510003789u},
    {"390bfd8b82a78961", 12083731710196418182u},
    {"none", 0u},
    {"8b3bbd52042cc078", 4860946766144967238u},
    {"d25002b8d68ae975", 2285217753538481212u},
    {"d459c6d95f184afb", 13858272703505897978u},
    {"9c6ff1ab1cab379d", 14735717431244155404u},
    {"23d78092cb84b6a6", 17387879629085156033u},
    {"58dd7a76989e528e", 5028673816699184345u},
    {"016496fb84f7ab39", 11506128989325943523u},
    {"aae8ee786823e0a8", 3029501114074137992u},
    {"4f3b6b8a1e07b5c4", 7099416771389665837u},
    {"88f2d317d9d1d5f4", 9989806232314335411u},
    {"b97ee985ab5d531a", 5252635199121733288u},
    {"none", 0u},
    {"f7257cd313725d51", 7400894924705611808u},
    {"833d7d25a8686487", 13205228929219642453u},
    {"e132fa3e655eef85", 11771400217860505957u},
    {"05ad4ef6c218c83e", 17377152921800555485u},
    {"41c59612584847e5", 16423655893458055766u},
    {"af1d096d4e85d709", 1897827112449684769u},
    {"8b41dd85db9a04a5", 10508791022225933203u},
    {"de95cb33e70b9348", 501371751393792376u},
    {"b0a1d79f41cbd79d", 7099416771389665837u},
    {"3785b0a414b11df6", 4024886089437199690u},
    {"2763d1f6ec9875a7", 3846497763194785595u},
    {"none", 0u},
    {"4210be4b9591b89e", 17195287819582064664u},
    {"748719c7434747e8", 9242140014147454133u},
    {"none", 0u},
    {"effb904f66d3a292", 2150211229983115209u},
    {"a26c3953366a2f32", 16920162271889484886u},
    {"443e775bf6a685f4", 2137756854071100272u},
    {"a9cc6d3d2560018f", 17567858362582040861u},
    {"83ceb1e7332d927a", 8793778459986736911u},
    {"6a1f16d3e7249d83", 11916876213886920815u},
    {"9684a8b692a7b4a9", 6616069314948834294u},
    {"none", 0u},
    {"none", 0u},
    {"996fafa6be9ccaee", 2127941858933306138u},
    {"473039b2fc03e747", 7881764865147401887u},
    {"9fd935769443a81e", 6755028983490581950u},
    {"0d4af66e33292e95", 755043285083377303u},
    {"c7a265cc7d69710b", 4231122740546878200u},
    {"bd623952bf534e88", 7099416771389665837u},
    {"155f9951f465ad17", 15533137855688491986u},
    {"e93a4dac36423846", 5046382424954505848u},
    {"4aa525ed28a22a46", 7099416771389665837u},
    {"e941275e9f213dcd", 13387768076392819270u},
    {"d140e1b32d64ce6a", 11743955286550023765u},
    {"none", 0u},
    {"5979e7752b122f9c", 8145196262200046880u},
    {"b63fbe265d906d7b", 6537231333834529732u},
    {"49f6cc634c2cd4c8", 3389175320353885464u},
    {"47ec9e463a088764", 9069528319570475102u},
    {"7ee281b0a6e135c7", 847063376221729790u},
    {"81e94af2ab0d25cb", 18332479125888938972u},
    {"b782374adf00a731", 14447344143240878176u},
};

TEST(MinHash, SignaturesMatchTheReferenceOnRealText) {
  std::vector<std::string> texts = DemoTexts(300);
  ASSERT_EQ(texts.size(), std::size(kPins));
  const char* modes[] = {"space", "punctuation", "character"};
  const int windows[] = {5, 3, 7};
  for (size_t i = 0; i < texts.size(); ++i) {
    ParamList p = {{"tokenization", S(modes[i % 3])}, {"window_size", I(windows[i % 3])},
                   {"lowercase", B(i % 5 != 0)}, {"num_bands", I(16)}, {"num_rows_per_band", I(16)}};
    if (i % 4 == 0) p.push_back({"ignore_pattern", S("\\p{P}")});
    auto op = MakeOp("document_minhash_deduplicator", p);
    std::vector<uint32_t> sig = MinHashSignature(*op, texts[i]);
    std::string got = "none";
    if (!sig.empty()) {
      ASSERT_EQ(sig.size(), 256u);
      uint8_t d[20];
      text::Sha1Digest({reinterpret_cast<const char*>(sig.data()), sig.size() * 4}, d);
      got = Hex(d, 8);
    }
    EXPECT_EQ(got, kPins[i].minhash) << "text " << i << " (" << modes[i % 3] << ")";
  }
}

TEST(SimHash, ValuesMatchTheReferenceOnRealText) {
  std::vector<std::string> texts = DemoTexts(300);
  const char* modes[] = {"space", "punctuation", "character"};
  const int windows[] = {6, 4, 8};
  for (size_t i = 0; i < texts.size(); ++i) {
    ParamList p = {{"tokenization", S(modes[i % 3])}, {"window_size", I(windows[i % 3])}, {"lowercase", B(i % 5 != 0)}};
    if (i % 4 == 0) p.push_back({"ignore_pattern", S("\\p{P}")});
    auto op = MakeOp("document_simhash_deduplicator", p);
    EXPECT_EQ(SimHashValue(*op, texts[i]), kPins[i].simhash) << "text " << i << " (" << modes[i % 3] << ")";
  }
}

// The fast path of space tokenization (ignore_pattern null or \p{P}: one pass that lowers, drops the
// pattern's code points and collapses spaces, vector or scalar by CPU) against the general shingler, on
// random texts built to hit its edges: runs of spaces and of punctuation between tokens, leading and
// trailing spaces, tokens that vanish, non-ASCII punctuation, letters whose lowercase is ASCII (K, U+212A)
// or longer (U+0130), final sigma, NUL, tabs and newlines (not separators), long tokens (shingles over one
// MD5 block), and blocks with non-ASCII bytes at every offset.
TEST(SimHash, FastPathMatchesTheGeneralShingler) {
  const std::vector<std::string> atoms = {
      " ", " ", " ", "  ", "a", "b", "The", "QUICK", "fox", ".", ",", "!", "'s", "\"", "(", ")", "-", "_", "@",
      "$", "+", "|", "~", "^", "`", "0", "42", "\n", "\t", "\r", std::string("\0", 1), "\xc3\xa9", "\xc3\x89",
      "\xce\xa3", "\xce\x91\xce\xa3", "\xc4\xb0", "\xe2\x84\xaa", "\xc2\xab", "\xc2\xbb", "\xe2\x80\x94",
      "\xe2\x80\xa6", "\xe2\x82\xac", "\xe3\x80\x82", "\xe3\x80\x80", "\xe4\xb8\xad\xe6\x96\x87",
      "\xf0\x9f\x98\x80", "\xf0\x91\xbd\x83", "\xc2\xa0", "supercalifragilisticexpialidocious",
      "https://example.com/a/very/long/path/that/goes/on/and/on"};
  std::mt19937_64 rng(5);
  std::vector<std::string> texts = DemoTexts(60);
  for (int n = 0; n < 400; ++n) {
    std::string t;
    size_t len = rng() % 300;
    for (size_t k = 0; k < len; ++k) t += atoms[rng() % atoms.size()];
    texts.push_back(t);
  }
  texts.push_back("");
  texts.push_back("     ");
  texts.push_back(". , ; : ! ?");
  texts.push_back(std::string(200, 'x') + " " + std::string(100, 'y'));
  for (bool vector : {true, false}) {
    SimHashVectorPaths(vector);
    for (bool lower : {true, false})
      for (int pattern = 0; pattern < 2; ++pattern)
        for (int w : {1, 2, 3, 6}) {
          ParamList p = {{"tokenization", S("space")}, {"window_size", I(w)}, {"lowercase", B(lower)}};
          if (pattern == 1) p.push_back({"ignore_pattern", S("\\p{P}")});
          auto op = MakeOp("document_simhash_deduplicator", p);
          for (size_t i = 0; i < texts.size(); ++i)
            ASSERT_EQ(SimHashValue(*op, texts[i]), SimHashValueGeneric(*op, texts[i]))
                << "text " << i << ", vector " << vector << ", lowercase " << lower << ", pattern " << pattern
                << ", window " << w;
        }
  }
  SimHashVectorPaths(true);
}

// The demo texts plus, inserted at position 20 + 7k (k = 0 .. 59), text 5k without its third
// space-separated token.
std::vector<std::string> NearDuplicateDataset() {
  std::vector<std::string> texts = DemoTexts(300), ds = texts;
  for (size_t k = 0; k < 60; ++k) {
    std::string t = texts[5 * k];
    size_t a = t.find(' '), b = t.find(' ', a + 1), c = t.find(' ', b + 1);
    t = t.substr(0, b) + (c == std::string::npos ? "" : t.substr(c));  // drops token 2 with one space
    size_t at = std::min<size_t>(20 + 7 * k, ds.size());  // past the end: appended, as Python's insert does
    ds.insert(ds.begin() + static_cast<std::ptrdiff_t>(at), t);
  }
  return ds;
}

// Runs both phases over `texts` (samples the op cannot hash are left out, as skip_op_error would) and
// returns the indices kept.
std::vector<size_t> Kept(Op& op, const std::vector<std::string>& texts, uint64_t memory = kDedupMemoryBudget,
                         DedupStats* stats = nullptr) {
  auto& d = static_cast<Deduplicator&>(op);
  Dataset ds;
  for (const auto& t : texts) ds.Add(TextJson(t));
  std::vector<uint8_t> fps;
  std::vector<size_t> ids;
  for (size_t i = 0; i < ds.size(); ++i) {
    try {
      d.Fingerprint(ds[i]);
    } catch (const Error&) {
      continue;
    }
    std::string_view f = d.fingerprint();
    fps.insert(fps.end(), f.begin(), f.end());
    ids.push_back(i);
  }
  MemoryFingerprints src(std::move(fps), d.fingerprint_size(), 50);
  std::vector<bool> keep(ids.size(), false);
  testing::TempDir scratch("sluice-dedup");
  DedupContext ctx;
  ctx.env = Env::Default();
  ctx.scratch_dir = scratch.path();
  ctx.memory_bytes = memory;
  DedupStats st = d.Decide(src, ctx, keep);
  if (stats) *stats = st;
  std::vector<size_t> kept;
  for (size_t i = 0; i < ids.size(); ++i)
    if (keep[i]) kept.push_back(ids[i]);
  return kept;
}

TEST(MinHash, DecisionMatchesTheReference) {
  auto op = MakeOp("document_minhash_deduplicator");
  std::vector<size_t> want = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 37, 38, 39, 40, 42, 43, 44, 45, 46, 47, 49, 50, 51, 52, 53, 54, 56, 57, 58, 59, 60, 61, 63, 64, 65, 66, 67, 68, 71, 72, 73, 74, 75, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 98, 99, 100, 101, 102, 103, 105, 106, 107, 108, 109, 110, 112, 113, 114, 115, 117, 120, 121, 122, 123, 124, 126, 127, 128, 129, 130, 131, 133, 134, 135, 136, 138, 140, 141, 142, 143, 144, 145, 147, 148, 149, 151, 152, 154, 155, 156, 157, 158, 159, 161, 162, 163, 164, 165, 166, 168, 169, 170, 171, 172, 173, 175, 176, 177, 178, 179, 180, 182, 183, 184, 186, 187, 189, 190, 191, 192, 193, 194, 196, 197, 198, 199, 200, 201, 203, 204, 205, 206, 207, 208, 210, 211, 212, 213, 214, 215, 217, 218, 219, 220, 221, 222, 224, 225, 226, 227, 228, 229, 231, 232, 233, 234, 236, 238, 239, 240, 241, 242, 243, 246, 247, 248, 249, 250, 252, 253, 254, 255, 256, 257, 259, 260, 261, 262, 264, 266, 267, 268, 269, 270, 271, 273, 274, 275, 276, 277, 278, 280, 281, 282, 283, 284, 285, 287, 288, 289, 290, 291, 292, 294, 295, 296, 297, 298, 299, 301, 302, 303, 304, 305, 306, 308, 309, 311, 312, 315, 316, 317, 318, 319, 320, 322, 324, 325, 326, 327, 329, 330, 331, 332, 333, 334, 336, 337, 338, 339, 340, 341, 343, 344, 345, 346};
  EXPECT_EQ(Kept(*op, NearDuplicateDataset()), want);
}

TEST(SimHash, DecisionMatchesTheReference) {
  auto op = MakeOp("document_simhash_deduplicator");
  std::vector<size_t> want = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 37, 38, 39, 40, 42, 43, 44, 45, 46, 47, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 98, 99, 100, 101, 102, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 117, 119, 120, 121, 122, 123, 124, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 151, 152, 153, 154, 155, 156, 157, 158, 159, 161, 162, 163, 164, 165, 166, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 186, 187, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 210, 211, 212, 213, 214, 215, 217, 218, 219, 220, 221, 222, 224, 225, 226, 227, 228, 229, 231, 232, 233, 234, 236, 237, 238, 239, 240, 241, 242, 243, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 266, 267, 268, 269, 270, 271, 273, 274, 275, 276, 277, 278, 280, 281, 282, 283, 284, 285, 287, 288, 289, 290, 291, 292, 294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305, 306, 308, 309, 311, 312, 314, 315, 316, 317, 318, 319, 320, 322, 324, 325, 326, 327, 329, 330, 331, 332, 333, 334, 335, 336, 337, 338, 339, 340, 341, 343, 344, 345, 346, 347, 348, 349, 350, 351, 353, 354, 356, 357};
  EXPECT_EQ(Kept(*op, NearDuplicateDataset()), want);
  // A wider distance (more transitive merging) with enough blocks for an exact search.
  auto wide = MakeOp("document_simhash_deduplicator", {{"hamming_distance", I(10)}, {"num_blocks", I(12)}});
  std::vector<size_t> want10 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 37, 38, 39, 40, 42, 43, 44, 45, 46, 47, 49, 50, 51, 52, 53, 54, 56, 57, 58, 59, 60, 61, 63, 64, 65, 66, 67, 68, 71, 72, 73, 74, 75, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 98, 99, 100, 101, 102, 105, 106, 107, 108, 109, 110, 112, 113, 114, 115, 117, 120, 121, 122, 123, 124, 126, 127, 128, 129, 130, 131, 133, 134, 135, 136, 138, 140, 141, 142, 143, 144, 145, 147, 148, 149, 151, 152, 154, 155, 156, 157, 158, 159, 161, 162, 163, 164, 165, 166, 168, 169, 170, 171, 172, 173, 175, 176, 177, 178, 179, 180, 182, 183, 184, 186, 187, 189, 190, 191, 192, 193, 194, 196, 197, 198, 199, 200, 201, 203, 204, 205, 206, 207, 208, 210, 211, 212, 213, 214, 215, 217, 218, 219, 220, 221, 222, 224, 225, 226, 227, 228, 229, 231, 232, 233, 234, 236, 238, 239, 240, 241, 242, 243, 246, 247, 248, 249, 250, 252, 253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 266, 267, 268, 269, 270, 271, 273, 274, 275, 276, 277, 278, 280, 281, 282, 283, 284, 285, 287, 288, 289, 290, 291, 292, 294, 295, 296, 297, 298, 299, 301, 302, 303, 304, 305, 306, 308, 309, 311, 312, 315, 316, 317, 318, 319, 320, 322, 324, 325, 326, 327, 329, 330, 331, 332, 333, 334, 336, 337, 338, 339, 340, 341, 343, 344, 345, 346};
  EXPECT_EQ(Kept(*wide, NearDuplicateDataset()), want10);
}

// Decide over hand-made fingerprints.
std::vector<bool> DecideRaw(Op& op, std::vector<uint64_t> words, uint64_t memory = kDedupMemoryBudget,
                            DedupStats* stats = nullptr, const std::string& scratch = "/nonexistent/spill") {
  auto& d = static_cast<Deduplicator&>(op);
  std::vector<uint8_t> bytes(words.size() * 8);
  std::memcpy(bytes.data(), words.data(), bytes.size());
  MemoryFingerprints src(std::move(bytes), d.fingerprint_size(), 1000);
  std::vector<bool> keep(src.count(), false);
  DedupContext ctx;
  ctx.env = Env::Default();
  ctx.scratch_dir = scratch;
  ctx.memory_bytes = memory;
  DedupStats st = d.Decide(src, ctx, keep);
  if (stats) *stats = st;
  return keep;
}

TEST(MinHash, ConnectedComponentsKeepTheirFirstSample) {
  auto op = MakeOp("document_minhash_deduplicator", {{"num_bands", I(2)}, {"num_rows_per_band", I(1)}});
  // Band hashes per sample (band 0, band 1). 0 and 1 share nothing; 3 bridges them (band 0 of 1, band 1
  // of 0), so 0, 1, 3 are one component; 2 shares band 0 of sample 0 only in another band (no link);
  // 4 duplicates 2 in band 1.
  std::vector<uint64_t> fps = {10, 20, /*1*/ 30, 40, /*2*/ 20, 50, /*3*/ 30, 20, /*4*/ 60, 50};
  EXPECT_EQ(DecideRaw(*op, fps), (std::vector<bool>{true, false, true, false, false}));
  // The bridge first: it is the component's first sample.
  std::vector<uint64_t> bridge_first = {30, 20, 10, 20, 30, 40};
  EXPECT_EQ(DecideRaw(*op, bridge_first), (std::vector<bool>{true, false, false}));
}

TEST(SimHash, ClustersAreTransitive) {
  auto op = MakeOp("document_simhash_deduplicator");  // distance 4, 6 blocks
  const uint64_t a = 0, b = 0xF, c = 0xFF, far = ~uint64_t{0};
  // a-b and b-c are within 4 bits, a-c is 8 apart: one cluster through b; the first sample survives.
  EXPECT_EQ(DecideRaw(*op, {c, far, a, b, c}), (std::vector<bool>{true, true, false, false, false}));
  // Without b, a and c are separate clusters.
  EXPECT_EQ(DecideRaw(*op, {c, a, far, far}), (std::vector<bool>{true, true, true, false}));
  // Bits spread over every block still match (distance 4 across 4 blocks).
  uint64_t spread = (uint64_t{1} << 0) | (uint64_t{1} << 20) | (uint64_t{1} << 40) | (uint64_t{1} << 63);
  EXPECT_EQ(DecideRaw(*op, {0, spread}), (std::vector<bool>{true, false}));
  EXPECT_EQ(DecideRaw(*op, {0, spread | 2}), (std::vector<bool>{true, true}));
}

TEST(NearDedup, RejectsWhatItCannotDo) {
  auto kind = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kInternal;
  };
  // sentencepiece needs tokenizer_model, a readable SentencePiece model (tests/cli/dj_tokenized_oracle_test.sh
  // runs it with real ones).
  EXPECT_EQ(kind([] { MakeOp("document_minhash_deduplicator", {{"tokenization", S("sentencepiece")}}); }), ErrorKind::kUsage);
  EXPECT_EQ(kind([] {
              MakeOp("document_minhash_deduplicator",
                     {{"tokenization", S("sentencepiece")}, {"tokenizer_model", S("/nonexistent/en.sp.model")}});
            }),
            ErrorKind::kUsage);
  EXPECT_EQ(kind([] { MakeOp("document_minhash_deduplicator", {{"num_permutations", I(2000)}}); }), ErrorKind::kUsage);
  EXPECT_EQ(kind([] { MakeOp("document_minhash_deduplicator", {{"num_bands", I(30)}, {"num_rows_per_band", I(10)}}); }),
            ErrorKind::kUsage);
  EXPECT_EQ(kind([] { MakeOp("document_simhash_deduplicator", {{"hamming_distance", I(6)}}); }), ErrorKind::kUsage);
  // An unknown simhash tokenization fails when hashing, as DataJuicer's does.
  auto op = MakeOp("document_simhash_deduplicator", {{"tokenization", S("words")}});
  Dataset ds;
  ds.Add(TextJson("a b c d e f g"));
  EXPECT_EQ(kind([&] { static_cast<Deduplicator&>(*op).Fingerprint(ds[0]); }), ErrorKind::kUsage);
  // Too few tokens: minhash fails on the sample, simhash gives 0.
  auto mh = MakeOp("document_minhash_deduplicator");
  EXPECT_EQ(kind([&] { static_cast<Deduplicator&>(*mh).Fingerprint(ds[0]); }), ErrorKind::kInternal);
  Dataset short_ds;
  short_ds.Add(TextJson("a b c"));
  EXPECT_EQ(kind([&] { static_cast<Deduplicator&>(*mh).Fingerprint(short_ds[0]); }), ErrorKind::kInput);
  EXPECT_EQ(SimHashValue(*MakeOp("document_simhash_deduplicator"), "a b c"), 0u);
}

struct KI {
  uint64_t key, index;
  bool operator<(const KI& o) const { return key != o.key ? key < o.key : index < o.index; }
  bool operator==(const KI& o) const = default;
};

// The decisions' records as they come: simhash (random keys, ascending small indices), minhash (few distinct
// keys, the band in the index's high half, bands interleaved), random indices, repeated keys in index order
// (where the index passes are skipped), each also below the std::sort cutoff.
TEST(Dedup, RadixSortOrdersAsStdSort) {
  std::mt19937_64 rng(7);
  for (size_t n : {size_t{10}, size_t{1023}, size_t{1024}, size_t{5000}, size_t{200000}}) {
    for (int shape = 0; shape < 4; ++shape) {
      std::vector<KI> v;
      for (size_t i = 0; i < n; ++i) {
        if (shape == 0) v.push_back({rng(), i});
        else if (shape == 1) for (uint64_t b = 0; b < 3 && v.size() < n; ++b) v.push_back({rng() % (n / 4 + 1), (b << 32) | i});
        else if (shape == 2) v.push_back({(rng() % 4) << 40, rng()});  // one varying key digit; random indices
        else v.push_back({rng() % (n / 8 + 1), i});  // in index order with repeated keys: index passes skipped
      }
      std::vector<KI> want = v;
      std::sort(want.begin(), want.end());
      dedup::RadixSortKeyIndex(v);
      EXPECT_TRUE(v == want) << "n " << n << " shape " << shape;
    }
  }
}

// The same decisions with a budget far below the data: sorted runs spill to disk and are merged.
TEST(Dedup, SpillingGivesIdenticalDecisions) {
  std::mt19937_64 rng(42);
  const size_t n = 60000;
  testing::TempDir tmp("sluice-dedup");
  const std::string& scratch = tmp.path();
  auto check = [&](Op& op, const std::vector<uint64_t>& words) {
    DedupStats big, tiny;
    std::vector<bool> a = DecideRaw(op, words, kDedupMemoryBudget, &big, scratch);
    std::vector<bool> b = DecideRaw(op, words, 1, &tiny, scratch);
    EXPECT_EQ(big.spill_runs, 0u);
    EXPECT_GT(tiny.spill_runs, 3u);
    EXPECT_EQ(a, b) << op.name();
    EXPECT_GT(std::count(a.begin(), a.end(), false), 100) << op.name() << ": the data should have duplicates";
    EXPECT_TRUE(std::filesystem::is_empty(scratch)) << "spill files left behind";
  };
  {
    auto op = MakeOp("document_minhash_deduplicator", {{"num_bands", I(4)}, {"num_rows_per_band", I(8)}});
    std::vector<uint64_t> w(n * 4);
    for (auto& x : w) x = rng() % (n * 20);
    check(*op, w);
  }
  {
    auto op = MakeOp("document_simhash_deduplicator");
    std::vector<uint64_t> w(n);
    for (size_t i = 0; i < n; ++i)
      w[i] = i > 0 && rng() % 10 == 0 ? w[rng() % i] ^ (uint64_t{1} << (rng() % 64)) ^ (uint64_t{1} << (rng() % 64)) : rng();
    check(*op, w);
  }
  {
    auto op = MakeOp("document_deduplicator");
    std::vector<uint64_t> w(n * 2);
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = rng() % (n / 2);
      w[2 * i] = v;
      w[2 * i + 1] = v * 31;
    }
    check(*op, w);
  }
}

}  // namespace
}  // namespace sluice
