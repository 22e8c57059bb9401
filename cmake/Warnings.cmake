# strop_warnings(target): the project warning set, applied to every first-party target.
function(strop_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
endfunction()
