// python_lambda_mapper / python_file_mapper: the entry point the op tests use besides the registry.
#pragma once

#include <string>
#include <string_view>

#include "ops/op.h"

namespace sluice {

// Calls the user function of a python_lambda_mapper or python_file_mapper `op` on one JSON object the
// way DataJuicer's process_single / process_batched do (the object is passed as is, the result is not
// merged into it) and returns the function's result as compact JSON. Throws sluice::Error with the Python
// exception ("ValueError: ...") when the function fails or returns no dict, and when `op` is neither op.
std::string CallPythonMapperFunction(Op& op, std::string_view json);

}  // namespace sluice
